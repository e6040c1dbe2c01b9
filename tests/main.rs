//! Integration tests: one crate, a module per area.

mod fixtures;
mod util;

// The Rust mirror against the Move sources, and against mutated copies of them.
mod contract_mirror;

// The real binaries as a user runs them.
mod cli;

// A real Kubernetes control plane, driven by the real kubectl (no chain).
mod control_plane;

// The operator's deployment manifests, checked by the real API server.
mod deploy;

// Release archives, the krew manifest, krew itself, install.sh.
mod krew;

// The embedded devnet as a Sui endpoint, through the official sui-rpc client.
mod devnet;

// The contract's scenario table (data) played through the chain client.
mod scenario;

// The whole path on a real Sui network (skipped, with its reason, without a Sui toolchain).
mod real_sui;

// The official TypeScript SDK as an independent peer of the devnet.
mod sdk_peer;

// The Nautilus node against the devnet and a real control plane.
mod node;

// The node under hostile load, lost state and cancelled requests.
mod load;

// Watches through the chain: frames, every end, kubectl's watching commands.
mod streams;

// Interactive sessions through the chain: kubectl exec, cp, attach.
mod sessions;

// A client of its own against the contract, the node and the API server's audit log.
mod hostile;

// Real kubectl through the whole chain path, the exec credential, and the quick start.
mod credential;
mod kubectl;
mod quickstart;

// Nothing secret on the public chain.
mod sealing;

// Attested nodes: the recorded Nitro documents on the devnet.
mod attestation;
