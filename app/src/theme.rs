//! Look and feel: the bundled fonts (Noto Sans for Latin, Arabic and Devanagari, Droid Sans
//! Fallback for Chinese, Japanese and Korean) and the few styles the screens share.

use iced::widget::container;
use iced::{border, Font, Theme};

/// Every bundled font; cosmic-text falls back among them by script.
pub const FONTS: [&[u8]; 5] = [
    include_bytes!("../../assets/fonts/NotoSans-Regular.ttf"),
    include_bytes!("../../assets/fonts/NotoSans-Bold.ttf"),
    include_bytes!("../../assets/fonts/NotoSansArabic-Regular.ttf"),
    include_bytes!("../../assets/fonts/NotoSansDevanagari-Regular.ttf"),
    include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf"),
];

pub const TEXT: Font = Font::with_name("Noto Sans");

pub const BOLD: Font = Font {
    weight: iced::font::Weight::Bold,
    ..TEXT
};

pub fn theme(dark: bool) -> Theme {
    if dark {
        Theme::Dark
    } else {
        Theme::Light
    }
}

/// A framed panel.
pub fn card(theme: &Theme) -> container::Style {
    let p = theme.extended_palette();
    container::Style::default()
        .background(p.background.weak.color)
        .border(border::rounded(8).color(p.background.strong.color).width(1))
}

/// The allergy banner: impossible to miss.
pub fn alert(theme: &Theme) -> container::Style {
    let p = theme.extended_palette();
    container::Style::default()
        .background(p.danger.base.color)
        .color(p.danger.base.text)
        .border(border::rounded(6))
}

/// A notice at the top (errors and confirmations).
pub fn notice(theme: &Theme) -> container::Style {
    let p = theme.extended_palette();
    container::Style::default()
        .background(p.warning.weak.color)
        .color(p.warning.weak.text)
        .border(border::rounded(6))
}
