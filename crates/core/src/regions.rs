//! The region catalogue: the regions each provider offers.

use dbcloud_types::{Provider, Region};

const CATALOGUE: &[(Provider, &str, &str)] = &[
    (Provider::Aws, "us-east-1", "N. Virginia"),
    (Provider::Aws, "us-east-2", "Ohio"),
    (Provider::Aws, "us-west-2", "Oregon"),
    (Provider::Aws, "eu-west-1", "Ireland"),
    (Provider::Aws, "eu-central-1", "Frankfurt"),
    (Provider::Aws, "ap-southeast-1", "Singapore"),
    (Provider::Aws, "ap-northeast-1", "Tokyo"),
    (Provider::Gcp, "us-central1", "Iowa"),
    (Provider::Gcp, "us-east1", "South Carolina"),
    (Provider::Gcp, "us-west1", "Oregon"),
    (Provider::Gcp, "europe-west1", "Belgium"),
    (Provider::Gcp, "europe-west4", "Netherlands"),
    (Provider::Gcp, "asia-southeast1", "Singapore"),
    (Provider::Azure, "eastus", "Virginia"),
    (Provider::Azure, "eastus2", "Virginia"),
    (Provider::Azure, "westus2", "Washington"),
    (Provider::Azure, "westeurope", "Netherlands"),
    (Provider::Azure, "northeurope", "Ireland"),
    (Provider::Azure, "southeastasia", "Singapore"),
    (Provider::Local, "local", "This host"),
];

/// The regions of `provider`, or of every provider when `None`.
pub fn regions(provider: Option<Provider>) -> Vec<Region> {
    CATALOGUE
        .iter()
        .filter(|(p, _, _)| provider.is_none_or(|q| q == *p))
        .map(|(p, name, location)| Region { provider: *p, name: (*name).into(), location: (*location).into() })
        .collect()
}

/// Whether `region` is in the catalogue of `provider`.
pub fn is_valid(provider: Provider, region: &str) -> bool {
    CATALOGUE.iter().any(|(p, name, _)| *p == provider && *name == region)
}

/// The default node size of a provider.
pub fn default_node_size(provider: Provider) -> &'static str {
    match provider {
        Provider::Aws => "m5.xlarge",
        Provider::Gcp => "n2-standard-4",
        Provider::Azure => "Standard_D4s_v5",
        Provider::Local => "local",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_per_provider() {
        assert!(is_valid(Provider::Aws, "us-east-1"));
        assert!(!is_valid(Provider::Gcp, "us-east-1"));
        assert!(regions(Some(Provider::Azure)).iter().all(|r| r.provider == Provider::Azure));
        assert_eq!(regions(None).len(), CATALOGUE.len());
    }
}
