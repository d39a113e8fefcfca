//! The people who use Carebook and their roles. A person may hold several roles; people are
//! deactivated, never deleted, and every change to the staff list is in the access log. Adding,
//! editing and deactivating need an administrator, except while the clinic has none (the first
//! run, or a database from before roles were enforced).

use rusqlite::{params, Connection, OptionalExtension};

use super::access::{self, Action, Permission};
use super::{new_id, now, Actor, ClinicError, FieldError, Result};

pub use super::roles::{Role, Roles};

/// A staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub roles: Roles,
    pub active: bool,
}

impl std::fmt::Display for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.roles)
    }
}

fn checked_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "name",
            message: "a name is required".into(),
        }]));
    }
    Ok(name)
}

fn checked_roles(roles: Roles) -> Result<Roles> {
    if roles.is_empty() {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "roles",
            message: "a person needs at least one role".into(),
        }]));
    }
    Ok(roles)
}

/// Whether anyone active holds the administrator role.
pub fn has_admin(db: &Connection) -> Result<bool> {
    Ok(list(db)?.iter().any(|s| s.roles.has(Role::Admin)))
}

fn insert(db: &Connection, name: &str, roles: Roles) -> Result<Staff> {
    let (name, roles) = (checked_name(name)?, checked_roles(roles)?);
    let id = new_id();
    db.execute(
        "INSERT INTO staff(id, name, role, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
        params![id, name, roles.to_text(), now()],
    )?;
    Ok(Staff {
        id,
        name: name.to_string(),
        roles,
        active: true,
    })
}

/// Adds a staff member while the clinic has no administrator yet (the first run, or an upgrade
/// from before roles were enforced); refused once one exists: from then on an administrator adds
/// people with [`add_by`].
pub fn add(db: &Connection, name: &str, roles: impl Into<Roles>) -> Result<Staff> {
    if has_admin(db)? {
        return Err(ClinicError::Refused(
            "only an administrator can add people to the staff list".into(),
        ));
    }
    insert(db, name, roles.into())
}

/// Adds a staff member (administrators), recorded in the access log.
pub fn add_by(
    db: &Connection,
    actor: &Actor,
    name: &str,
    roles: impl Into<Roles>,
) -> Result<Staff> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Staff)?;
    let s = insert(&tx, name, roles.into())?;
    access::log(
        &tx,
        actor,
        Action::StaffAdded,
        "",
        &s.id,
        &s.roles.to_text(),
    )?;
    tx.commit()?;
    Ok(s)
}

/// One staff member, active or not.
pub fn get(db: &Connection, id: &str) -> Result<Staff> {
    db.prepare_cached("SELECT id, name, role, active FROM staff WHERE id = ?1")?
        .query_row([id], from_row)
        .optional()?
        .ok_or(ClinicError::NotFound("staff member"))
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Staff> {
    Ok(Staff {
        id: r.get(0)?,
        name: r.get(1)?,
        roles: Roles::from_text(&r.get::<_, String>(2)?),
        active: r.get::<_, i64>(3)? != 0,
    })
}

/// Active staff, by name.
pub fn list(db: &Connection) -> Result<Vec<Staff>> {
    Ok(everyone(db)?.into_iter().filter(|s| s.active).collect())
}

/// Everyone, active or not, by name (the Staff screen).
pub fn everyone(db: &Connection) -> Result<Vec<Staff>> {
    let mut st =
        db.prepare_cached("SELECT id, name, role, active FROM staff ORDER BY name COLLATE NOCASE")?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Changes a person's name and roles (administrators). The last active administrator keeps the
/// role, so the clinic is never locked out of its own settings.
pub fn edit(db: &Connection, actor: &Actor, id: &str, name: &str, roles: Roles) -> Result<Staff> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Staff)?;
    let (name, roles) = (checked_name(name)?, checked_roles(roles)?);
    let before = get(&tx, id)?;
    if before.roles.has(Role::Admin) && !roles.has(Role::Admin) {
        keep_an_admin(&tx, id)?;
    }
    tx.execute(
        "UPDATE staff SET name = ?1, role = ?2 WHERE id = ?3",
        params![name, roles.to_text(), id],
    )?;
    access::log(&tx, actor, Action::StaffEdited, "", id, &roles.to_text())?;
    tx.commit()?;
    get(db, id)
}

fn keep_an_admin(db: &Connection, leaving: &str) -> Result<()> {
    let others = list(db)?
        .iter()
        .any(|s| s.id != leaving && s.roles.has(Role::Admin));
    if others {
        Ok(())
    } else {
        Err(ClinicError::Refused(
            "the clinic needs at least one active administrator; make someone else one first"
                .into(),
        ))
    }
}

/// Deactivates or reactivates a person (administrators); recorded, never a delete. A
/// deactivated person cannot sign in, and their past work keeps their name.
pub fn set_active(db: &Connection, actor: &Actor, id: &str, active: bool) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Staff)?;
    let before = get(&tx, id)?;
    if !active && before.roles.has(Role::Admin) {
        keep_an_admin(&tx, id)?;
    }
    tx.execute(
        "UPDATE staff SET active = ?1 WHERE id = ?2",
        params![active as i64, id],
    )?;
    let action = if active {
        Action::Reactivated
    } else {
        Action::Deactivated
    };
    access::log(&tx, actor, action, "", id, "")?;
    tx.commit()?;
    Ok(())
}

/// Makes the signed-in person an administrator while the clinic has none (a database from
/// before roles were enforced: the first person to sign in is asked to become one).
pub fn become_admin(db: &Connection, actor: &Actor) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    if has_admin(&tx)? {
        return Err(ClinicError::Refused(
            "the clinic already has an administrator; ask them".into(),
        ));
    }
    let me = get(&tx, &actor.staff_id)?;
    let roles = me.roles.with(Role::Admin);
    tx.execute(
        "UPDATE staff SET role = ?1 WHERE id = ?2",
        params![roles.to_text(), me.id],
    )?;
    access::log(
        &tx,
        actor,
        Action::StaffEdited,
        "",
        &me.id,
        &roles.to_text(),
    )?;
    tx.commit()?;
    Ok(())
}
