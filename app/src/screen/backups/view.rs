//! How the Backups screen looks: the passphrase, Save and Open, progress, what an opened
//! backup holds and who signed it, and the automatic backups' settings.

use carebook_sync::backup::schedule::Last;
use carebook_sync::backup::{ClinicMatch, Report, Standing};
use iced::widget::{
    button, checkbox, column, container, pick_list, progress_bar, row, scrollable, text, text_input,
};
use iced::{Center, Element, Fill, Font};
use std::path::PathBuf;

use super::{Backups, Every, Msg, Opened, Work};
use crate::{clock, theme};

/// "Last backup: ..." as the screen says it.
fn last_line(last: &Last) -> String {
    match &last.ok {
        Some((at, file)) => format!("Last backup: {} ({file})", clock::local(*at, clock::MINUTE)),
        None => "No backup made on this computer yet".into(),
    }
}

fn standing_line(r: &Report) -> String {
    let name = r
        .signer_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("\"{}\" (its own name)", r.manifest.device_name));
    format!("Signed by {name}, {}: {}", r.signer, r.standing)
}

impl Backups {
    pub fn view(&self) -> Element<'_, Msg> {
        let busy = self.running.is_some();
        let enabled = |m: Msg| (!busy).then_some(m);
        let mut body = column![text("Backups").font(theme::BOLD).size(24)].spacing(14);
        if self.restoring {
            body = body.push(text(
                "Restore as this computer: open the clinic's backup. Its records are merged in, and this computer keeps its own new identity, so it never shares one with the computer that made the backup.",
            ));
        }
        if let Some(d) = &self.data {
            if let Some(name) = &d.clinic {
                body = body.push(text(format!("Clinic: {name}")));
            }
            body = body.push(text(last_line(&d.last)));
        }
        let remembered = self
            .data
            .as_ref()
            .map(|d| d.remembered.clone())
            .unwrap_or(Ok(false));
        let hint = match &remembered {
            Ok(true) => "This computer remembers the clinic's backup passphrase; type one only to use another.".to_string(),
            Ok(false) => "Type the clinic's backup passphrase (it will be remembered for automatic backups).".to_string(),
            Err(e) => format!("The remembered passphrase cannot be read ({e}); type it."),
        };
        body = body.push(
            column![
                text(hint).size(13),
                text_input("Backup passphrase", &self.passphrase)
                    .secure(true)
                    .on_input(Msg::Passphrase)
                    .padding(6)
                    .width(360),
                (!self.passphrase.is_empty()).then(|| {
                    text_input("The same passphrase again", &self.confirm)
                        .secure(true)
                        .on_input(Msg::Confirm)
                        .padding(6)
                        .width(360)
                }),
            ]
            .spacing(4),
        );
        let actions = row![
            button(text("Save a backup…")).on_press_maybe(enabled(Msg::Save)),
            button(text("Open a backup…"))
                .style(button::secondary)
                .on_press_maybe(enabled(Msg::Open)),
        ]
        .spacing(8);
        let typed = row![
            text("No file dialog? Type a path:").size(13),
            text_input("/media/usb/clinic.carebook-backup", &self.path)
                .on_input(Msg::Path)
                .width(360),
            button(text("Save here").size(13))
                .style(button::secondary)
                .on_press_maybe(enabled(Msg::SaveTo(Some(PathBuf::from(&self.path))))),
            button(text("Open this").size(13))
                .style(button::secondary)
                .on_press_maybe(enabled(Msg::Verify(Some(PathBuf::from(&self.path))))),
        ]
        .spacing(6)
        .align_y(Center);
        body = body.push(actions).push(typed);
        if let Some((work, control)) = &self.running {
            let label = match work {
                Work::Export => "Writing the backup",
                Work::Verify => "Checking the backup",
                Work::Import => "Merging the backup",
            };
            body = body.push(
                row![
                    text(format!("{label}… {:.0}%", control.fraction() * 100.0)).width(220),
                    progress_bar(0.0..=1.0, control.fraction()).length(300),
                    button(text("Cancel"))
                        .style(button::danger)
                        .on_press(Msg::Cancel),
                ]
                .spacing(10)
                .align_y(Center),
            );
        }
        if let Some(o) = &self.outcome {
            body = body.push(container(text(o.clone())).padding(8).style(theme::notice));
        }
        if let Some(o) = &self.opened {
            body = body.push(self.opened_view(o, busy));
        }
        body = body.push(self.schedule_view(busy));
        scrollable(body).height(Fill).into()
    }

    /// What a verified backup holds and who signed it, before anything changes.
    fn opened_view<'a>(&'a self, o: &'a Opened, busy: bool) -> Element<'a, Msg> {
        let r = &o.report;
        let m = &r.manifest;
        let clinic = match &r.clinic {
            ClinicMatch::Same => "this clinic".to_string(),
            ClinicMatch::NoneHere => "nothing here yet: it can be restored".to_string(),
            ClinicMatch::Other { here } => format!("ANOTHER clinic (this one is \"{here}\")"),
        };
        let rows: Vec<String> = ["patients", "appointments", "visits", "staff"]
            .iter()
            .map(|t| format!("{} {t}", m.rows_of(t)))
            .collect();
        let needs_consent = matches!(r.standing, Standing::Unknown | Standing::Revoked);
        let mut panel = column![
            text(o.file.display().to_string()).font(theme::BOLD),
            text("The signature is valid.").style(text::success),
            text(standing_line(r)).font(Font::MONOSPACE).size(13),
            text(format!(
                "Made {} with Carebook {}",
                clock::local(m.created_at, clock::MINUTE),
                m.app_version
            )),
            text(format!("Clinic \"{}\": {clinic}", m.clinic_name)),
            text(format!("Holds {}", rows.join(", "))),
        ]
        .spacing(4);
        if needs_consent {
            panel = panel.push(
                checkbox(self.accept_signer)
                    .label("I have checked this computer's ID and trust this backup")
                    .on_toggle(Msg::AcceptSigner),
            );
        }
        let can_import = !busy
            && !matches!(r.clinic, ClinicMatch::Other { .. })
            && (!needs_consent || self.accept_signer);
        let label = if r.clinic == ClinicMatch::NoneHere {
            "Restore as this computer"
        } else {
            "Merge into this computer's records"
        };
        panel = panel.push(
            row![
                button(text(label)).on_press_maybe(can_import.then_some(Msg::Import)),
                text("Nothing here is lost or rolled back: newer edits win.").size(13),
            ]
            .spacing(10)
            .align_y(Center),
        );
        container(panel)
            .padding(12)
            .width(Fill)
            .style(theme::card)
            .into()
    }

    fn schedule_view(&self, busy: bool) -> Element<'_, Msg> {
        let overdue = self
            .data
            .as_ref()
            .is_some_and(|d| d.schedule.overdue(&d.last, chrono::Utc::now().timestamp()));
        let mut panel = column![
            text("Automatic backups").font(theme::BOLD).size(18),
            text("Carebook saves a backup into this folder while it runs (an external disk or a share), and keeps the newest ones.").size(13),
            row![
                text_input("Folder (empty: off)", &self.folder)
                    .on_input(Msg::Folder)
                    .width(360),
                button(text("Choose…"))
                    .style(button::secondary)
                    .on_press_maybe((!busy).then_some(Msg::ChooseFolder)),
                pick_list(&Every::CHOICES[..], self.every, Msg::Every),
                text("keep"),
                text_input("14", &self.keep)
                    .on_input(Msg::Keep)
                    .width(60),
                button(text("Save")).on_press(Msg::SaveSchedule),
            ]
            .spacing(8)
            .align_y(Center),
        ]
        .spacing(6);
        if let Some(d) = &self.data {
            if let Some((at, why)) = &d.last.failed {
                panel = panel.push(
                    text(format!(
                        "The automatic backup of {} failed: {why}",
                        clock::local(*at, clock::MINUTE)
                    ))
                    .style(text::danger),
                );
            }
            if overdue {
                panel = panel.push(
                    text("A backup is overdue. Check the folder and the passphrase above.")
                        .style(text::danger),
                );
            } else if d.schedule.folder.is_none() {
                panel = panel.push(
                    text("Automatic backups are off: choose a folder to turn them on.")
                        .style(text::warning),
                );
            }
        }
        container(panel)
            .padding(12)
            .width(Fill)
            .style(theme::card)
            .into()
    }
}
