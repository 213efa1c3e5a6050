//! Outgoing mail: to the log (default), to a folder of `.eml` files, or through SMTP.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail address {0:?}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("could not write the mail file: {0}")]
    Io(#[from] std::io::Error),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("unknown mail_mode {0:?} (use log, folder or smtp)")]
    Mode(String),
}

#[derive(Clone)]
pub enum Mailer {
    /// Writes the message to the log: handy in development and the embedded default.
    Log { from: String },
    /// One `.eml` file per message in this folder.
    Folder { from: String, dir: PathBuf },
    Smtp {
        from: String,
        transport: AsyncSmtpTransport<Tokio1Executor>,
    },
}

impl Mailer {
    pub fn from_settings(settings: &crate::Settings) -> Result<Mailer, MailError> {
        let from = settings.mail_from.clone();
        match settings.mail_mode.as_str() {
            "log" => Ok(Mailer::Log { from }),
            "folder" => Ok(Mailer::Folder {
                from,
                dir: settings
                    .mail_folder
                    .clone()
                    .unwrap_or_else(|| settings.data_dir.join("mails")),
            }),
            "smtp" => {
                let url = settings.smtp_url.clone().unwrap_or_default();
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| MailError::Smtp(e.to_string()))?
                    .build();
                Ok(Mailer::Smtp { from, transport })
            }
            other => Err(MailError::Mode(other.into())),
        }
    }

    fn sender(&self) -> &str {
        match self {
            Mailer::Log { from } | Mailer::Folder { from, .. } | Mailer::Smtp { from, .. } => from,
        }
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let from: Mailbox = self
            .sender()
            .parse()
            .map_err(|_| MailError::Address(self.sender().into()))?;
        let to_box: Mailbox = to.parse().map_err(|_| MailError::Address(to.into()))?;
        let message = Message::builder()
            .from(from)
            .to(to_box)
            .subject(subject)
            .body(body.to_string())
            .map_err(|e| MailError::Build(e.to_string()))?;
        match self {
            Mailer::Log { .. } => {
                tracing::info!(
                    to,
                    subject,
                    body,
                    "mail (mail_mode=log; set mail_mode=smtp to deliver)"
                );
                Ok(())
            }
            Mailer::Folder { dir, .. } => {
                tokio::fs::create_dir_all(dir).await?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    uuid::Uuid::new_v4().simple()
                );
                tokio::fs::write(dir.join(name), message.formatted()).await?;
                Ok(())
            }
            Mailer::Smtp { transport, .. } => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Smtp(e.to_string())),
        }
    }
}
