//! Capabilities: what a policy rule grants on a path (`read`, `update`, `sudo`, ...), as a
//! small bit set. `deny` and the internal `root` are capabilities too, because Vault reports
//! them the same way (`sys/capabilities-self` answers `["deny"]` or `["root"]`).

use std::fmt;

/// One capability a policy rule can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Write to a path that does not exist yet (POST/PUT when the engine says so).
    Create,
    /// GET.
    Read,
    /// Write to an existing path (POST/PUT); also renew, revoke and rollback.
    Update,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// LIST.
    List,
    /// Recursive listing (OpenBao's SCAN); accepted so OpenBao policies load.
    Scan,
    /// Access to root-protected paths, on top of the operation's own capability.
    Sudo,
    /// Forbids everything on the path, whatever other rules or policies grant.
    Deny,
    /// Everything, everywhere: only the root token has it; never written in a policy.
    Root,
}

impl Capability {
    /// The capabilities a policy may name, in the order of their bits.
    const ALL: [Capability; 10] = [
        Capability::Create,
        Capability::Read,
        Capability::Update,
        Capability::Patch,
        Capability::Delete,
        Capability::List,
        Capability::Scan,
        Capability::Sudo,
        Capability::Deny,
        Capability::Root,
    ];

    /// The name used in policies and in Vault's API (`"read"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Patch => "patch",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Scan => "scan",
            Capability::Sudo => "sudo",
            Capability::Deny => "deny",
            Capability::Root => "root",
        }
    }

    /// The capability a policy may write under this name; `root` is not one of them.
    pub fn from_policy_name(name: &str) -> Option<Capability> {
        Capability::ALL
            .into_iter()
            .find(|cap| *cap != Capability::Root && cap.as_str() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The capabilities of one path for one token.
/// `deny` excludes everything else; `root` includes everything but `deny`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities(u16);

impl Capabilities {
    /// No capability at all, which is what an unmatched path gets (default deny).
    pub const fn none() -> Self {
        Capabilities(0)
    }

    /// The root token's capabilities: everything.
    pub fn root() -> Self {
        Capabilities(Capability::Root.bit())
    }

    /// Whether an operation needing `cap` is granted. Never true for `deny`.
    pub fn contains(self, cap: Capability) -> bool {
        if cap == Capability::Deny {
            return false;
        }
        if self.is_denied() {
            return false;
        }
        self.0 & (cap.bit() | Capability::Root.bit()) != 0
    }

    /// Whether a `deny` rule decided, which overrides every grant.
    pub fn is_denied(self) -> bool {
        self.0 & Capability::Deny.bit() != 0
    }

    /// Vault's rendering for `sys/capabilities-self`: `["root"]` for root, `["deny"]` when
    /// denied or when nothing is granted, else the granted names in alphabetical order.
    pub fn names(&self) -> Vec<String> {
        if self.0 & Capability::Root.bit() != 0 {
            return vec![Capability::Root.as_str().to_owned()];
        }
        if self.is_denied() || self.0 == 0 {
            return vec![Capability::Deny.as_str().to_owned()];
        }
        let mut names: Vec<String> = Capability::ALL
            .into_iter()
            .filter(|cap| self.0 & cap.bit() != 0)
            .map(|cap| cap.as_str().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Adds `cap`; adding `deny` leaves only `deny`, as Vault does.
    pub(crate) fn insert(&mut self, cap: Capability) {
        if cap == Capability::Deny {
            self.0 = Capability::Deny.bit();
        } else if !self.is_denied() {
            self.0 |= cap.bit();
        }
    }

    /// The union of two grants, where `deny` on either side wins.
    pub(crate) fn union(self, other: Capabilities) -> Capabilities {
        if self.is_denied() || other.is_denied() {
            Capabilities(Capability::Deny.bit())
        } else {
            Capabilities(self.0 | other.0)
        }
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut caps = Capabilities::none();
        for cap in iter {
            caps.insert(cap);
        }
        caps
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
