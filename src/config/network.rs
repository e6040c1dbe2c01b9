//! The networks `kubectl-sui` can talk to: the embedded devnet (the default), a local Sui
//! network, Sui's testnet and mainnet, or any full node by URL.

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use super::ConfigError;

/// A network by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// `kubectl sui devnet` on its default ports.
    Devnet,
    /// `sui start` on its default ports.
    Localnet,
    /// Sui testnet.
    Testnet,
    /// Sui mainnet.
    Mainnet,
    /// A full node's gRPC URL.
    Url(String),
}

/// How to reach a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkEndpoints {
    /// gRPC URL of a full node (`sui.rpc.v2`).
    pub rpc: String,
    /// Faucet URL, where the network has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faucet: Option<String>,
    /// The kubectl-sui package id; `None` on the devnet, which runs it at a fixed id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Address>,
    /// The `UpgradeCap` of the package, when `kubectl sui contract publish` published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_cap: Option<Address>,
}

impl Network {
    /// Parses a network name or URL.
    pub fn parse(name: &str) -> Result<Network, ConfigError> {
        Ok(match name {
            "devnet" => Network::Devnet,
            "localnet" => Network::Localnet,
            "testnet" => Network::Testnet,
            "mainnet" => Network::Mainnet,
            url if url.starts_with("http://") || url.starts_with("https://") => Network::Url(url.to_string()),
            other => return Err(ConfigError::UnknownNetwork(other.to_string())),
        })
    }

    /// Its default endpoints.
    pub fn endpoints(&self) -> Result<NetworkEndpoints, ConfigError> {
        let (rpc, faucet) = match self {
            // The embedded devnet stays off the ports a `sui start` localnet uses.
            Network::Devnet => ("http://127.0.0.1:9410", Some("http://127.0.0.1:9411")),
            Network::Localnet => ("http://127.0.0.1:9000", Some("http://127.0.0.1:9123")),
            Network::Testnet => ("https://fullnode.testnet.sui.io:443", Some("https://faucet.testnet.sui.io")),
            Network::Mainnet => ("https://fullnode.mainnet.sui.io:443", None),
            Network::Url(url) => (url.as_str(), None),
        };
        Ok(NetworkEndpoints {
            rpc: rpc.to_string(),
            faucet: faucet.map(String::from),
            package: None,
            upgrade_cap: None,
        })
    }
}

impl NetworkEndpoints {
    /// The package id to call: the configured one, or the devnet's fixed id on a devnet.
    pub fn package_for(&self, network: &str) -> Result<Address, ConfigError> {
        match (self.package, network) {
            (Some(package), _) => Ok(package),
            (None, "testnet" | "mainnet") => Err(ConfigError::NoPackage(network.to_string())),
            (None, _) => Ok(crate::contract::devnet_package_id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_resolve() {
        assert_eq!(Network::parse("devnet").unwrap().endpoints().unwrap().rpc, "http://127.0.0.1:9410");
        assert_eq!(Network::parse("localnet").unwrap().endpoints().unwrap().rpc, "http://127.0.0.1:9000");
        let url = Network::parse("https://node.example:443").unwrap().endpoints().unwrap();
        assert_eq!((url.rpc.as_str(), url.faucet), ("https://node.example:443", None));
        assert!(matches!(Network::parse("moon"), Err(ConfigError::UnknownNetwork(_))));
    }

    #[test]
    fn public_networks_need_a_package() {
        let testnet = Network::Testnet.endpoints().unwrap();
        assert!(matches!(testnet.package_for("testnet"), Err(ConfigError::NoPackage(_))));
        assert_eq!(
            Network::Devnet.endpoints().unwrap().package_for("devnet").unwrap(),
            crate::contract::devnet_package_id()
        );
    }
}
