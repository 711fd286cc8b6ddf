//! What each state type does, one file per type, and the input and output processing they
//! share ([`io`]). `step.rs` owns the frames, transitions, retry and catch.

pub(crate) mod children;
mod choice;
mod fail;
pub(crate) mod io;
mod map;
mod parallel;
mod pass;
mod task;
mod wait;
