use anyhow::Context;
use clap::Args;
use iaso_api::Settings;
use iaso_domain::password::{check_new_password, HashCost, PasswordHasher};
use iaso_store::users::NewUser;
use std::io::IsTerminal;

#[derive(Args)]
pub struct SuperuserArgs {
    /// Login name.
    #[arg(long)]
    username: String,
    #[arg(long, default_value = "")]
    email: String,
    /// Read the password from standard input (one line) instead of asking for it.
    #[arg(long)]
    password_stdin: bool,
}

fn read_password(args: &SuperuserArgs) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("IASO_SUPERUSER_PASSWORD") {
        return Ok(p);
    }
    if args.password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password (again): ")?;
    anyhow::ensure!(first == again, "the two passwords differ");
    Ok(first)
}

pub async fn run(settings: Settings, args: SuperuserArgs) -> anyhow::Result<()> {
    let store = super::open_store(&settings).await?;
    let hasher = PasswordHasher::new(HashCost::Standard);
    if let Some(existing) = store.credentials(&args.username).await? {
        store.promote_superuser(existing.user.id).await?;
        println!(
            "{} already existed; it is now a superuser (password unchanged).",
            existing.user.username
        );
        return Ok(());
    }
    let password = read_password(&args)?;
    if let Err(problems) = check_new_password(&password, &args.username) {
        anyhow::bail!("password refused: {}", problems.join(" "));
    }
    let user = store
        .create_user(&NewUser {
            username: args.username.clone(),
            password_hash: hasher.hash(&password),
            email: args.email.clone(),
            is_superuser: true,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Superuser {} created (id {}). Create accounts with POST /api/setupaccount/.",
        user.username, user.id
    );
    Ok(())
}
