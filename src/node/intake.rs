//! The node's intake: requests seen on chain, reassembled from their chunk events, bounded,
//! and handed out when complete; and the cursor watermark that never passes an open request.
//!
//! Pure: no I/O, no clock of its own (callers pass chain time), no chain. The I/O loop in
//! [`super::run`] feeds it checkpoint events and executes what it hands out. Every limit is a
//! field of [`Limits`], with a documented default, and every refusal is a [`Refusal`] the node
//! answers on chain, so a refused request still ends: the requester gets a `Status`, and the
//! node keeps nothing of it.

use std::collections::HashMap;

use sui_sdk_types::Address;

use crate::contract::Verb;
use crate::contract::events::{RequestChunk, RequestSubmitted};
use crate::envelope::{Reassembly, Sealed};

/// The intake's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest sealed body a write may announce (bytes).
    pub max_sealed_body: u64,
    /// Largest sealed body a read may announce: reads carry headers, not bodies.
    pub max_sealed_read_body: u64,
    /// Requests one requester may have open at the node (arriving, waiting or running).
    pub max_open_per_requester: usize,
    /// Sealed bytes buffered for requests still arriving, all requesters together.
    pub max_buffered_bytes: u64,
    /// How long (chain time) a request may take to finish its upload.
    pub upload_ttl_ms: u64,
}

/// Default [`Limits::max_open_per_requester`].
pub const DEFAULT_MAX_OPEN_PER_REQUESTER: usize = 16;
/// Default [`Limits::max_buffered_bytes`]: 256 MiB.
pub const DEFAULT_MAX_BUFFERED_BYTES: u64 = 256 * 1024 * 1024;
/// Default [`Limits::max_sealed_read_body`]: 64 KiB.
pub const DEFAULT_MAX_SEALED_READ_BODY: u64 = 64 * 1024;
/// Default [`Limits::upload_ttl_ms`]: 10 minutes.
pub const DEFAULT_UPLOAD_TTL_MS: u64 = 10 * 60 * 1000;

impl Limits {
    /// The intake's limits from the node's configuration, for requests whose decompressed
    /// body may be up to `max_body` bytes.
    pub fn new(config: &super::NodeLimits, max_body: usize) -> Limits {
        Limits {
            max_sealed_body: sealed_bound(max_body),
            max_sealed_read_body: DEFAULT_MAX_SEALED_READ_BODY,
            max_open_per_requester: config.max_open_per_requester,
            max_buffered_bytes: config.max_buffered_bytes,
            upload_ttl_ms: config.upload_ttl_secs.saturating_mul(1000),
        }
    }
}

/// The largest sealed form of a body of `max_body` bytes: zstd's worst case on
/// incompressible input, plus the envelope's header, HPKE's key and tag, and headers.
pub fn sealed_bound(max_body: usize) -> u64 {
    let body = max_body as u64;
    body + body / 128 + 64 * 1024
}

/// Why the node refuses a request without running it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The requester has too many requests open at the node.
    #[error("requester {requester} has {limit} requests open at this node, its limit; retry after one is answered")]
    TooManyOpen {
        /// The requester.
        requester: Address,
        /// The limit.
        limit: usize,
    },
    /// The node is buffering as much as it will for requests still arriving.
    #[error("the node is buffering {buffered} bytes of requests still arriving, its limit of {limit}; retry shortly")]
    Busy {
        /// Bytes buffered.
        buffered: u64,
        /// The limit.
        limit: u64,
    },
    /// The announced body is larger than the node accepts for this verb.
    #[error(
        "the sealed request body of {announced} bytes is larger than the {limit} bytes this node accepts for a {verb}"
    )]
    TooLarge {
        /// Announced sealed length.
        announced: u64,
        /// The limit.
        limit: u64,
        /// The verb.
        verb: &'static str,
    },
    /// The chunks do not match what was announced.
    #[error("the request's chunks do not reassemble to the body announced: {0}")]
    Malformed(String),
}

impl Refusal {
    /// HTTP status: 429 for load (with Retry-After), 413 for size, 400 for malformed.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooManyOpen { .. } | Refusal::Busy { .. } => 429,
            Refusal::TooLarge { .. } => 413,
            Refusal::Malformed(_) => 400,
        }
    }

    /// The Kubernetes `Status` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::TooManyOpen { .. } | Refusal::Busy { .. } => "TooManyRequests",
            Refusal::TooLarge { .. } => "RequestEntityTooLarge",
            Refusal::Malformed(_) => "BadRequest",
        }
    }

    /// The metric label of this refusal.
    pub fn cause(&self) -> &'static str {
        match self {
            Refusal::TooManyOpen { .. } => "too_many_open",
            Refusal::Busy { .. } => "busy",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::Malformed(_) => "malformed",
        }
    }
}

/// What the intake hands out.
#[derive(Debug)]
pub enum Ready {
    /// A complete request to open, check and execute.
    Execute {
        /// Its audit record.
        submitted: Box<RequestSubmitted>,
        /// Its sealed body.
        sealed: Sealed,
    },
    /// A complete request to answer with a refusal, unopened.
    Refuse {
        /// Its audit record.
        submitted: Box<RequestSubmitted>,
        /// Why.
        refusal: Refusal,
    },
}

impl Ready {
    /// The request id.
    pub fn id(&self) -> Address {
        match self {
            Ready::Execute { submitted, .. } | Ready::Refuse { submitted, .. } => submitted.request_id,
        }
    }
}

/// A request whose chunks are still arriving.
#[derive(Debug)]
struct Arriving {
    submitted: Box<RequestSubmitted>,
    checkpoint: u64,
    /// Chunks kept, or only counted for a request that will be refused.
    body: Body,
}

#[derive(Debug)]
enum Body {
    Kept(Reassembly),
    Counted { received: u32, refusal: Refusal },
}

/// The requests the node has seen and not finished, and the limits on them.
#[derive(Debug)]
pub struct Intake {
    limits: Limits,
    arriving: HashMap<Address, Arriving>,
    /// Handed out, not finished: request id to (requester, checkpoint it was seen in).
    running: HashMap<Address, (Address, u64)>,
    open: HashMap<Address, usize>,
    buffered: u64,
}

impl Intake {
    /// An empty intake with `limits`.
    pub fn new(limits: Limits) -> Intake {
        Intake { limits, arriving: HashMap::new(), running: HashMap::new(), open: HashMap::new(), buffered: 0 }
    }

    /// A request was submitted in `checkpoint`.
    pub fn submitted(&mut self, submitted: RequestSubmitted, checkpoint: u64) {
        let id = submitted.request_id;
        if self.arriving.contains_key(&id) || self.running.contains_key(&id) {
            return;
        }
        let read = Verb::from_code(submitted.verb).is_some_and(Verb::is_read);
        let (limit, verb) = match read {
            true => (self.limits.max_sealed_read_body, "read"),
            false => (self.limits.max_sealed_body, "write"),
        };
        let open = self.open.get(&submitted.requester).copied().unwrap_or(0);
        let refusal = if submitted.body_len > limit {
            Some(Refusal::TooLarge { announced: submitted.body_len, limit, verb })
        } else if open >= self.limits.max_open_per_requester {
            Some(Refusal::TooManyOpen { requester: submitted.requester, limit: self.limits.max_open_per_requester })
        } else if self.buffered + submitted.body_len > self.limits.max_buffered_bytes {
            Some(Refusal::Busy { buffered: self.buffered, limit: self.limits.max_buffered_bytes })
        } else {
            None
        };
        let body = match refusal {
            Some(refusal) => Body::Counted { received: 0, refusal },
            None => {
                self.buffered += submitted.body_len;
                let digest = submitted.body_digest.clone().try_into().unwrap_or([0; 32]);
                Body::Kept(Reassembly::new(submitted.chunk_count, submitted.body_len, digest))
            }
        };
        *self.open.entry(submitted.requester).or_default() += 1;
        self.arriving.insert(id, Arriving { submitted: Box::new(submitted), checkpoint, body });
    }

    /// A chunk of a request arrived.
    pub fn chunk(&mut self, chunk: RequestChunk) {
        let Some(arriving) = self.arriving.get_mut(&chunk.request_id) else { return };
        let announced = arriving.submitted.body_len;
        let failed = match &mut arriving.body {
            Body::Counted { received, .. } => {
                *received += 1;
                None
            }
            Body::Kept(reassembly) => {
                // More bytes than announced can never reassemble: stop keeping them.
                if reassembly.buffered() + chunk.data.len() as u64 > announced {
                    Some((reassembly.received() + 1, "more bytes than announced".to_string()))
                } else {
                    let received = reassembly.received() + 1;
                    reassembly.add(chunk.index, chunk.data).err().map(|e| (received, e.to_string()))
                }
            }
        };
        if let Some((received, why)) = failed {
            arriving.body = Body::Counted { received, refusal: Refusal::Malformed(why) };
            self.buffered -= announced;
        }
    }

    /// A request is gone from the chain (cancelled, or answered by another run of the node).
    /// One already handed out keeps counting until it is [`Intake::finished`]: a requester's
    /// cancel must not free its share while the node still runs the request.
    pub fn gone(&mut self, id: &Address) {
        if let Some(arriving) = self.arriving.remove(id) {
            self.release(&arriving);
        }
    }

    /// A request's answer is on chain: it no longer counts against its requester, from the
    /// checkpoint that carries the answer. The requester sees that checkpoint too and may send
    /// its next request at once, before the task that answered has journalled it
    /// ([`Intake::finished`] then finds nothing left to release).
    pub fn answered(&mut self, id: &Address) {
        self.gone(id);
        self.finished(id);
    }

    fn release(&mut self, arriving: &Arriving) {
        if matches!(arriving.body, Body::Kept(_)) {
            self.buffered -= arriving.submitted.body_len;
        }
        self.close_one(&arriving.submitted.requester);
    }

    fn close_one(&mut self, requester: &Address) {
        if let Some(n) = self.open.get_mut(requester) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(requester);
            }
        }
    }

    /// The requests whose upload is complete, moved to running.
    pub fn take_ready(&mut self) -> Vec<Ready> {
        let complete: Vec<Address> = self
            .arriving
            .iter()
            .filter(|(_, a)| match &a.body {
                Body::Kept(r) => r.is_complete(),
                Body::Counted { received, .. } => *received >= a.submitted.chunk_count,
            })
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::with_capacity(complete.len());
        for id in complete {
            let arriving = self.arriving.remove(&id).expect("listed");
            self.running.insert(id, (arriving.submitted.requester, arriving.checkpoint));
            let submitted = arriving.submitted;
            out.push(match arriving.body {
                Body::Kept(reassembly) => {
                    self.buffered -= submitted.body_len;
                    match reassembly.finish() {
                        Ok(sealed) => Ready::Execute { submitted, sealed },
                        Err(e) => Ready::Refuse { submitted, refusal: Refusal::Malformed(e.to_string()) },
                    }
                }
                Body::Counted { refusal, .. } => Ready::Refuse { submitted, refusal },
            });
        }
        out
    }

    /// A handed-out request is answered (or given up): it no longer counts or holds the cursor.
    pub fn finished(&mut self, id: &Address) {
        if let Some((requester, _)) = self.running.remove(id) {
            self.close_one(&requester);
        }
    }

    /// Drops requests whose upload began more than the TTL before `now_ms` (chain time):
    /// they can never be answered (the contract answers complete requests only), so they must
    /// not pin memory or the cursor. Returns their ids.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Address> {
        let ttl = self.limits.upload_ttl_ms;
        let old: Vec<Address> = self
            .arriving
            .iter()
            .filter(|(_, a)| a.submitted.timestamp_ms.saturating_add(ttl) < now_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in &old {
            let arriving = self.arriving.remove(id).expect("listed");
            self.release(&arriving);
        }
        old
    }

    /// The checkpoint to resume from after `latest`: never past a request still open.
    pub fn cursor(&self, latest: u64) -> u64 {
        let oldest = self.running.values().map(|(_, c)| *c).chain(self.arriving.values().map(|a| a.checkpoint)).min();
        oldest.unwrap_or(latest + 1).min(latest + 1)
    }

    /// Sealed bytes buffered for requests still arriving.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered
    }

    /// Requests arriving and running.
    pub fn open_requests(&self) -> usize {
        self.arriving.len() + self.running.len()
    }
}

#[cfg(test)]
mod tests;
