//! The access commands: `auth enable|disable|status`, `user ...`, `role ...` and
//! `acl get|set`.

use corral_client::AuthChangeResponse;

use crate::cli::{AclCommand, AuthCommand, RoleCommand, UserCommand};
use crate::failure::{Call, Failure};
use crate::input;
use crate::output::{table, Shown};
use crate::{wire, Ctx};

/// A write whose effect `check` shows.
fn write(check: impl Into<String>) -> Call {
    Call::Write {
        check: check.into(),
    }
}

/// The answer of a change that returns only a header: `text` for people, the
/// response message `make` builds for `-o json`.
fn changed<M: crate::protojson::ApiMessage>(
    r: &AuthChangeResponse,
    make: fn(Option<corral_proto::v1::ResponseHeader>) -> M,
    text: String,
) -> Shown {
    Shown::message(&make(Some(wire::header(&r.header))), text)
}

pub async fn auth(ctx: &Ctx, command: AuthCommand) -> Result<(), Failure> {
    use corral_proto::v1 as pb;
    let client = ctx.client().await?;
    let shown = match command {
        AuthCommand::Enable => {
            let r = client
                .auth_enable()
                .await
                .map_err(Failure::call(Call::EnableAuth))?;
            changed(
                &r,
                |header| pb::AuthEnableResponse { header },
                "auth enabled\n".into(),
            )
        }
        AuthCommand::Disable => {
            let r = client
                .auth_disable()
                .await
                .map_err(Failure::call(write("corralctl auth status")))?;
            changed(
                &r,
                |header| pb::AuthDisableResponse { header },
                "auth disabled\n".into(),
            )
        }
        AuthCommand::Status => {
            let r = client
                .auth_status()
                .await
                .map_err(Failure::call(Call::Read))?;
            let roles = if r.roles.is_empty() {
                "-".to_string()
            } else {
                r.roles.join(",")
            };
            let text = format!(
                "{:<14}{}\n{:<14}{}\n{:<14}{}\n{:<14}{}\n",
                "enabled",
                r.enabled,
                "user",
                r.user.as_deref().unwrap_or("(anonymous)"),
                "roles",
                roles,
                "token_ttl_ms",
                wire::millis(r.token_ttl),
            );
            Shown::message(&wire::auth_status(&r), text)
        }
    };
    ctx.out.print(shown)
}

pub async fn user(ctx: &Ctx, command: UserCommand) -> Result<(), Failure> {
    use corral_proto::v1 as pb;
    let client = ctx.client().await?;
    let shown = match command {
        UserCommand::Add { name, new_password } => {
            let password = input::new_password(new_password, &name)?;
            let r = client
                .user_add(&name, password)
                .await
                .map_err(Failure::call(write("corralctl user list")))?;
            changed(
                &r,
                |header| pb::AuthUserAddResponse { header },
                format!("user {name} added\n"),
            )
        }
        UserCommand::Delete { name } => {
            let r = client
                .user_delete(&name)
                .await
                .map_err(Failure::call(write("corralctl user list")))?;
            changed(
                &r,
                |header| pb::AuthUserDeleteResponse { header },
                format!("user {name} deleted\n"),
            )
        }
        UserCommand::List => {
            let r = client
                .user_list()
                .await
                .map_err(Failure::call(Call::Read))?;
            let rows: Vec<Vec<String>> = r
                .users
                .iter()
                .map(|u| {
                    let roles = if u.roles.is_empty() {
                        "-".to_string()
                    } else {
                        u.roles.join(",")
                    };
                    vec![u.name.clone(), roles]
                })
                .collect();
            Shown::message(&wire::user_list(&r), table(&["USER", "ROLES"], &rows))
        }
        UserCommand::Passwd { name, new_password } => {
            let password = input::new_password(new_password, &name)?;
            // Changing it again to the same password changes nothing visible.
            let r = client
                .user_change_password(&name, password)
                .await
                .map_err(Failure::call(write(format!(
                    "corralctl user passwd {name}"
                ))))?;
            changed(
                &r,
                |header| pb::AuthUserChangePasswordResponse { header },
                format!("password of {name} changed\n"),
            )
        }
        UserCommand::GrantRole { name, role } => {
            let r = client
                .user_grant_role(&name, &role)
                .await
                .map_err(Failure::call(write("corralctl user list")))?;
            changed(
                &r,
                |header| pb::AuthUserGrantRoleResponse { header },
                format!("granted role {role} to {name}\n"),
            )
        }
        UserCommand::RevokeRole { name, role } => {
            let r = client
                .user_revoke_role(&name, &role)
                .await
                .map_err(Failure::call(write("corralctl user list")))?;
            changed(
                &r,
                |header| pb::AuthUserRevokeRoleResponse { header },
                format!("revoked role {role} from {name}\n"),
            )
        }
    };
    ctx.out.print(shown)
}

pub async fn role(ctx: &Ctx, command: RoleCommand) -> Result<(), Failure> {
    use corral_proto::v1 as pb;
    let client = ctx.client().await?;
    let shown = match command {
        RoleCommand::Add { name } => {
            let r = client
                .role_add(&name)
                .await
                .map_err(Failure::call(write("corralctl role list")))?;
            changed(
                &r,
                |header| pb::AuthRoleAddResponse { header },
                format!("role {name} added\n"),
            )
        }
        RoleCommand::Delete { name } => {
            let r = client
                .role_delete(&name)
                .await
                .map_err(Failure::call(write("corralctl role list")))?;
            changed(
                &r,
                |header| pb::AuthRoleDeleteResponse { header },
                format!("role {name} deleted\n"),
            )
        }
        RoleCommand::List => {
            let r = client
                .role_list()
                .await
                .map_err(Failure::call(Call::Read))?;
            let text: String = r.roles.iter().map(|role| format!("{role}\n")).collect();
            Shown::message(&wire::role_list(&r), text)
        }
    };
    ctx.out.print(shown)
}

pub async fn acl(ctx: &Ctx, command: AclCommand) -> Result<(), Failure> {
    let client = ctx.client().await?;
    let shown = match command {
        AclCommand::Get { path } => {
            let r = client
                .get_acl(path)
                .await
                .map_err(Failure::call(Call::Read))?;
            Shown::message(&wire::get_acl(&r), acl_text(&r.acl))
        }
        AclCommand::Set {
            path,
            entries,
            expected_acl_version,
        } => {
            let r = client
                .set_acl(&path, entries, expected_acl_version)
                .await
                .map_err(Failure::call(write(format!("corralctl acl get {path}"))))?;
            let text = format!(
                "OK acl_version={} revision={}\n",
                r.stat.acl_version, r.header.revision
            );
            Shown::message(&wire::set_acl(&r), text)
        }
    };
    ctx.out.print(shown)
}

/// `acl get`'s text: one entry per line in the syntax `acl set` takes, so the output
/// can be edited and given back.
pub fn acl_text(acl: &[corral_client::AclEntry]) -> String {
    acl.iter().map(|entry| format!("{entry}\n")).collect()
}
