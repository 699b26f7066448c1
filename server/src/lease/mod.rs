//! The leader's housekeeping: expiring leases, checkpointing their clocks, reaping TTL
//! and container znodes, and compacting the event history. Every decision that depends
//! on time is made here, on the leader, and committed as a command, so apply stays pure.

pub mod keeper;
