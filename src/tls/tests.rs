//! The stage as a whole: synthetic TLS 1.3 and TLS 1.2 connections with
//! records encrypted by the same ciphers, pushed in pieces.
