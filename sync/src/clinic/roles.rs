//! The roles a person holds at the clinic, as the staff list stores them.

/// What a person does at the clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Receptionist,
    Nurse,
    Doctor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Receptionist, Role::Nurse, Role::Doctor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Receptionist => "receptionist",
            Role::Nurse => "nurse",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = match self {
            Role::Receptionist => "Receptionist",
            Role::Nurse => "Nurse",
            Role::Doctor => "Doctor",
            Role::Admin => "Administrator",
        };
        f.write_str(label)
    }
}

/// The roles one person holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn with(self, role: Role) -> Roles {
        Roles(self.0 | role.bit())
    }

    pub fn without(self, role: Role) -> Roles {
        Roles(self.0 & !role.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    /// As stored: role names separated by commas.
    pub fn to_text(self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }

    /// From storage; names this version does not know are skipped.
    pub fn from_text(s: &str) -> Roles {
        s.split(',')
            .filter_map(Role::parse)
            .fold(Roles::default(), Roles::with)
    }
}

impl From<Role> for Roles {
    fn from(r: Role) -> Roles {
        Roles::default().with(r)
    }
}

impl<const N: usize> From<[Role; N]> for Roles {
    fn from(rs: [Role; N]) -> Roles {
        rs.into_iter().fold(Roles::default(), Roles::with)
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.iter().map(|r| r.to_string()).collect();
        f.write_str(&names.join(", "))
    }
}
