//! Local processes: the ones this program supervises in the background (the proxy, the
//! quick start's stack) and the ones it can only name (who holds a port).
//!
//! [`supervise`] owns pid files, detached starts that wait until ready, stopping by signal,
//! the start lock and log tails; [`port`] owns reading which process listens on a port. Neither
//! knows what the processes are: callers pass the command, the files and the readiness test.

pub mod port;
pub mod supervise;

pub use port::port_holder;
