//! Placeholder: this host is being built (see its issue).
