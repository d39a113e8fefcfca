//! The people who use Carebook and their roles. Who is at the keyboard is chosen with a quick
//! switch (no passwords yet); every write names them.

use rusqlite::{params, Connection};

use super::{new_id, now, ClinicError, FieldError, Result};

/// What a person does at the clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Receptionist,
    Doctor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Receptionist, Role::Doctor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Receptionist => "receptionist",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Role {
        match s {
            "doctor" => Role::Doctor,
            "admin" => Role::Admin,
            _ => Role::Receptionist,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = match self {
            Role::Receptionist => "Receptionist",
            Role::Doctor => "Doctor",
            Role::Admin => "Administrator",
        };
        f.write_str(label)
    }
}

/// A staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub role: Role,
}

impl std::fmt::Display for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.role)
    }
}

/// Adds a staff member.
pub fn add(db: &Connection, name: &str, role: Role) -> Result<Staff> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "name",
            message: "a name is required".into(),
        }]));
    }
    let id = new_id();
    db.execute(
        "INSERT INTO staff(id, name, role, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
        params![id, name, role.as_str(), now()],
    )?;
    Ok(Staff {
        id,
        name: name.to_string(),
        role,
    })
}

/// Active staff, by name.
pub fn list(db: &Connection) -> Result<Vec<Staff>> {
    let mut st = db.prepare_cached(
        "SELECT id, name, role FROM staff WHERE active = 1 ORDER BY name COLLATE NOCASE",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Staff {
            id: r.get(0)?,
            name: r.get(1)?,
            role: Role::parse(&r.get::<_, String>(2)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
