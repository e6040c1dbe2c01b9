//! Verb and role codes shared by the contract and its clients.

use std::fmt;

/// A Kubernetes verb, with the code the contract uses (`access.move`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Verb {
    /// Read one object.
    Get = 0,
    /// Read a collection.
    List = 1,
    /// Stream changes.
    Watch = 2,
    /// Create an object.
    Create = 3,
    /// Replace an object.
    Update = 4,
    /// Patch an object.
    Patch = 5,
    /// Delete an object.
    Delete = 6,
    /// Delete a collection.
    DeleteCollection = 7,
}

impl Verb {
    /// Every verb, in code order.
    pub const ALL: [Verb; 8] = [
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Create,
        Verb::Update,
        Verb::Patch,
        Verb::Delete,
        Verb::DeleteCollection,
    ];

    /// The contract's code for this verb.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The verb of a contract code, if it is one.
    pub fn from_code(code: u8) -> Option<Verb> {
        Verb::ALL.get(usize::from(code)).copied()
    }

    /// The verb as Kubernetes spells it (`deletecollection`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }

    /// Parses a Kubernetes verb name.
    pub fn parse(name: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// get, list and watch need no stake.
    pub fn is_read(self) -> bool {
        matches!(self, Verb::Get | Verb::List | Verb::Watch)
    }

    /// This verb's bit in a rule's verb mask.
    pub fn bit(self) -> u16 {
        1 << self.code()
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token's role, with the contract's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    /// No permissions until the admin grants some.
    None = 0,
    /// Read everything.
    View = 1,
    /// Write namespaced objects, read cluster-scoped ones.
    Edit = 2,
    /// Everything.
    Admin = 3,
    /// Explicit rules granted by the admin or asked for at staking.
    Custom = 4,
}

impl Role {
    /// The contract's code for this role.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The role of a contract code, if it is one.
    pub fn from_code(code: u8) -> Option<Role> {
        [Role::None, Role::View, Role::Edit, Role::Admin, Role::Custom].get(usize::from(code)).copied()
    }

    /// Parses a predefined role's name (`custom` is not asked for by name).
    pub fn parse(name: &str) -> Option<Role> {
        [Role::None, Role::View, Role::Edit, Role::Admin].into_iter().find(|r| r.as_str() == name)
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::View => "view",
            Role::Edit => "edit",
            Role::Admin => "admin",
            Role::Custom => "custom",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verb_codes_round_trip_and_bits_are_distinct() {
        for v in Verb::ALL {
            assert_eq!(Verb::from_code(v.code()), Some(v));
            assert_eq!(Verb::parse(v.as_str()), Some(v));
        }
        assert_eq!(Verb::from_code(8), None);
        let mask = Verb::ALL.iter().fold(0u16, |m, v| m | v.bit());
        assert_eq!(mask, 0xFF);
        assert_eq!(Verb::ALL.iter().filter(|v| v.is_read()).count(), 3);
    }

    #[test]
    fn role_codes_round_trip() {
        for code in 0..5 {
            assert_eq!(Role::from_code(code).map(Role::code), Some(code));
        }
        assert_eq!(Role::from_code(5), None);
    }
}

/// Why a stream ended (`request::END_*`, `StreamEnded.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// The API server ended it (its timeout, the pod's exit, the watch closed).
    Completed = 0,
    /// The requester's token was revoked, expired, or lost the permission while it ran.
    Token = 1,
    /// A limit of the node (duration, bytes, frames) was reached.
    Limit = 2,
    /// The node failed, or restarted, while it ran.
    Node = 3,
    /// The requester hung up (kubectl closed the connection).
    Client = 4,
}

impl EndReason {
    /// Every reason, in code order.
    pub const ALL: [EndReason; 5] =
        [EndReason::Completed, EndReason::Token, EndReason::Limit, EndReason::Node, EndReason::Client];

    /// The contract's code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason of a contract code, if it is one.
    pub fn from_code(code: u8) -> Option<EndReason> {
        EndReason::ALL.get(usize::from(code)).copied()
    }

    /// The reason's name in the contract, without `END_` (`COMPLETED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Token => "token",
            EndReason::Limit => "limit",
            EndReason::Node => "node",
            EndReason::Client => "client",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod end_reason_tests {
    use super::EndReason;

    #[test]
    fn end_reasons_are_the_contracts() {
        let source = include_str!("../../move/sources/request.move");
        let declared = regex::Regex::new(r"const END_(\w+): u8 = (\d+);").expect("regex");
        let found: Vec<(String, u8)> =
            declared.captures_iter(source).map(|c| (c[1].to_lowercase(), c[2].parse().expect("digits"))).collect();
        let ours: Vec<(String, u8)> = EndReason::ALL.iter().map(|r| (r.as_str().to_string(), r.code())).collect();
        assert_eq!(found, ours);
    }
}
