//! Which local process holds a TCP port, so that "address in use" can name it.
//!
//! Owns reading Linux's `/proc/net/tcp{,6}` (listening sockets and their inodes) and
//! `/proc/<pid>/fd` (which process has that inode open). Elsewhere, or without permission to
//! read another user's processes, it answers `None` and the caller says less.

use std::path::Path;

/// `pid N (command)` of the process listening on `port`, when it can be told.
pub fn port_holder(port: u16) -> Option<String> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| wanted.iter().any(|w| Path::new(w) == target)));
        if holds {
            let command = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            return Some(format!("pid {pid} ({})", command.trim()));
        }
    }
    Some("another process".into())
}

/// The inodes of the sockets listening on `port` in one `/proc/net/tcp*` table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?;
            let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (local_port == port && *state == LISTEN).then(|| inode.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_listening_socket_from_the_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:24C2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:24C2 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 654321 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(listening_inodes(table, 9410), vec!["123456".to_string()]);
        assert!(listening_inodes(table, 9411).is_empty());
    }

    #[test]
    fn names_the_process_holding_a_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if !Path::new("/proc/net/tcp").exists() {
            eprintln!("SKIPPED names_the_process_holding_a_port: no /proc here");
            return;
        }
        let holder = port_holder(port).expect("a listener is found");
        assert!(holder.starts_with(&format!("pid {}", std::process::id())), "{holder}");
    }
}
