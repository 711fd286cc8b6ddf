//! What each state type does, one file per type, and the input and output processing they
//! share ([`io`]). `step.rs` owns the frames, transitions, retry and catch.

pub(crate) mod children;
mod choice;
mod fail;
pub(crate) mod io;
pub(crate) mod map;
pub(crate) mod map_run;
mod parallel;
mod pass;
mod task;
mod wait;
