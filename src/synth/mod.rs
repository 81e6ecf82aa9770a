//! Synthetic captures for tests, fuzzing and benchmarks: writers for pcap and
//! pcapng and builders for the link/IP/TCP headers wscap decodes.
