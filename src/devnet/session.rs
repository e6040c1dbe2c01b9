//! The values of one execution, shared by [`super::execute`] (which makes and commits a
//! session) and [`super::natives`] (which the contract's calls run against it): the session's
//! objects and events, execution values, and the contents of the framework objects they read.
//! It depends on neither, so neither imports the other's internals.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sui_sdk_types::{Address, Digest, Event, MoveStruct, Object, ObjectData, Owner, StructTag, Version};

/// `0x2::coin::Coin<T>` contents.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CoinContents {
    /// Object id.
    pub id: Address,
    /// Balance in MIST.
    pub balance: u64,
}

/// `0x2::clock::Clock` contents.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ClockContents {
    /// Object id (`0x6`).
    pub id: Address,
    /// Chain time.
    pub timestamp_ms: u64,
}

/// A value during execution.
#[derive(Debug, Clone)]
pub enum Value {
    /// An object in the session.
    Object(Address),
    /// BCS bytes of a pure value.
    Pure(Vec<u8>),
    /// A vector built by `MakeMoveVector`.
    Vector(Vec<Value>),
    /// A `sui::nitro_attestation::NitroAttestationDocument` that `load_nitro_attestation`
    /// verified in this transaction.
    Attestation(Box<Document>),
}

impl Value {
    /// The BCS encoding of a pure value (vectors of pure values included).
    pub fn to_bcs(&self) -> Option<Vec<u8>> {
        match self {
            Value::Pure(bytes) => Some(bytes.clone()),
            Value::Vector(items) => {
                let mut out = uleb128(items.len());
                for item in items {
                    out.extend(item.to_bcs()?);
                }
                Some(out)
            }
            Value::Object(_) | Value::Attestation(_) => None,
        }
    }
}

fn uleb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// How an input object was loaded.
#[derive(Debug, Clone)]
pub(super) struct InputState {
    pub(super) version: Version,
    pub(super) digest: Digest,
    pub(super) owner: Owner,
    pub(super) mutable: bool,
}

/// Objects and events of one execution, before it is committed.
#[derive(Debug, Clone)]
pub struct Session {
    /// The contract package.
    pub package: Address,
    /// The sender.
    pub sender: Address,
    /// Chain time of this execution.
    pub now_ms: u64,
    pub(super) digest: Digest,
    pub(super) objects: BTreeMap<Address, Object>,
    pub(super) inputs: BTreeMap<Address, InputState>,
    pub(super) created: BTreeSet<Address>,
    pub(super) deleted: BTreeSet<Address>,
    pub(super) events: Vec<Event>,
    pub(super) ids_created: u64,
}

impl Session {
    /// A live object of the session.
    pub fn object(&self, id: &Address) -> Option<&Object> {
        self.objects.get(id)
    }

    /// Replaces the contents of an object, keeping its type and owner.
    pub fn write_contents(&mut self, id: Address, contents: Vec<u8>) {
        let o = self.objects.get_mut(&id).expect("written objects are loaded");
        let s = o.as_struct().expect("contract objects are structs");
        let data = MoveStruct::new(s.object_type().clone(), s.has_public_transfer(), s.version(), contents)
            .expect("contents start with the object id");
        *o = Object::new(ObjectData::Struct(data), *o.owner(), o.previous_transaction(), o.storage_rebate());
    }

    /// Changes the owner of an object.
    pub fn set_owner(&mut self, id: Address, owner: Owner) {
        let o = self.objects.get_mut(&id).expect("loaded");
        *o = Object::new(o.data().clone(), owner, o.previous_transaction(), o.storage_rebate());
    }

    /// A fresh object id, derived from the transaction digest as Sui derives them.
    pub fn fresh_id(&mut self) -> Address {
        let mut bytes = self.digest.inner().to_vec();
        bytes.extend_from_slice(&self.ids_created.to_le_bytes());
        self.ids_created += 1;
        Address::new(sui_sdk_types::hash::Hasher::digest(&bytes).into_inner())
    }

    /// Creates an object with `contents` (which start with `id`).
    pub fn create(&mut self, id: Address, type_: StructTag, contents: Vec<u8>, owner: Owner) {
        let data = MoveStruct::new(type_, true, 0, contents).expect("contents start with the object id");
        self.objects.insert(id, Object::new(ObjectData::Struct(data), owner, self.digest, 0));
        self.created.insert(id);
    }

    /// Deletes an object.
    pub fn delete(&mut self, id: Address) {
        self.objects.remove(&id);
        if !self.created.remove(&id) {
            self.deleted.insert(id);
        }
    }

    /// Emits an event.
    pub fn emit(&mut self, module: &'static str, name: &'static str, contents: Vec<u8>) {
        let type_ = StructTag::new(
            self.package,
            sui_sdk_types::Identifier::from_static(module),
            sui_sdk_types::Identifier::from_static(name),
            vec![],
        );
        self.events.push(Event {
            package_id: self.package,
            module: sui_sdk_types::Identifier::from_static(module),
            sender: self.sender,
            type_,
            contents,
        });
    }

    /// The balance of a `Coin<SUI>`.
    pub fn coin_balance(&self, id: &Address) -> Option<u64> {
        let o = self.objects.get(id)?;
        let s = o.as_struct().filter(|s| s.object_type() == &StructTag::gas_coin())?;
        bcs::from_bytes::<CoinContents>(s.contents()).ok().map(|c| c.balance)
    }

    /// Sets the balance of a `Coin<SUI>`.
    pub fn set_coin_balance(&mut self, id: Address, balance: u64) {
        self.write_contents(id, bcs::to_bytes(&CoinContents { id, balance }).expect("encodes"));
    }

    /// Creates a `Coin<SUI>` owned by `owner`.
    pub fn create_coin(&mut self, balance: u64, owner: Owner) -> Address {
        let id = self.fresh_id();
        self.create(id, StructTag::gas_coin(), bcs::to_bytes(&CoinContents { id, balance }).expect("encodes"), owner);
        id
    }

    /// Whether `id` was passed mutably (owned, or shared `&mut`) or created here.
    pub fn is_mutable(&self, id: &Address) -> bool {
        self.created.contains(id) || self.inputs.get(id).is_some_and(|i| i.mutable)
    }
}

/// `sui::nitro_attestation::NitroAttestationDocument`, as the contract reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Issuing Nitro hypervisor module.
    pub module_id: Vec<u8>,
    /// When the Nitro Security Module made it (ms since the epoch).
    pub timestamp: u64,
    /// The digest function of the PCRs.
    pub digest: Vec<u8>,
    /// The PCRs, by index.
    pub pcrs: Vec<(u8, Vec<u8>)>,
    /// The key the enclave put in it.
    pub public_key: Option<Vec<u8>>,
    /// Data the enclave put in it.
    pub user_data: Option<Vec<u8>>,
    /// The challenge the enclave put in it.
    pub nonce: Option<Vec<u8>>,
}
