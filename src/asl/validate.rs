//! Definition validation: JSON Schema plus semantic checks.
