//! Tooth numbers. One canonical notation is stored — FDI / ISO 3950 (permanent 11–48, primary
//! 51–85) — and the clinic's choice of FDI, Universal (1–32, A–T) or Palmer is used for display
//! and input. Knows nothing of documents or storage: a leaf any crate can use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The ways clinics write tooth numbers.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Notation {
    /// FDI / ISO 3950: quadrant digit then position, `11`–`48`, primary `51`–`85`.
    #[default]
    Fdi,
    /// The American Dental Association's Universal numbering: `1`–`32`, primary `A`–`T`.
    Universal,
    /// Palmer (Zsigmondy) quadrant notation, written `UR6`, `LL3`, `URE` in text; the
    /// quadrant-bracket forms (`6┘`, `└6`, `6┐`, `┌6` and the Unicode dentistry symbols) are
    /// accepted as input.
    Palmer,
}

impl Notation {
    pub const ALL: [Notation; 3] = [Notation::Fdi, Notation::Universal, Notation::Palmer];

    pub fn as_str(self) -> &'static str {
        match self {
            Notation::Fdi => "fdi",
            Notation::Universal => "universal",
            Notation::Palmer => "palmer",
        }
    }
}

impl FromStr for Notation {
    type Err = ToothError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fdi" | "iso" | "iso3950" => Ok(Notation::Fdi),
            "universal" | "ada" => Ok(Notation::Universal),
            "palmer" => Ok(Notation::Palmer),
            _ => Err(ToothError::UnknownNotation(s.to_string())),
        }
    }
}

impl fmt::Display for Notation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToothError {
    #[error("“{0}” is not a tooth notation: use fdi, universal or palmer")]
    UnknownNotation(String),
    #[error("“{text}” is not a tooth in {notation} notation ({hint})")]
    NotATooth { text: String, notation: Notation, hint: &'static str },
}

impl chairside_store::ErrorCode for ToothError {
    fn code(&self) -> &'static str {
        "invalid_teeth"
    }
    fn is_invalid_input(&self) -> bool {
        true
    }
}

fn hint(n: Notation) -> &'static str {
    match n {
        Notation::Fdi => "permanent 11–18, 21–28, 31–38, 41–48; primary 51–55, 61–65, 71–75, 81–85",
        Notation::Universal => "permanent 1–32, primary A–T",
        Notation::Palmer => "a quadrant UR, UL, LL or LR then 1–8, or A–E for a primary tooth, e.g. UR6 or LLE",
    }
}

/// One tooth, held as its FDI code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tooth(u8);

/// Palmer's quadrant names, in FDI quadrant order (1 = upper right … 4 = lower right).
const PALMER_QUADRANTS: [&str; 4] = ["UR", "UL", "LL", "LR"];

impl Tooth {
    /// From an FDI code; `None` when the number names no tooth.
    pub fn from_fdi(code: u8) -> Option<Tooth> {
        let (q, p) = (code / 10, code % 10);
        let ok = match q {
            1..=4 => (1..=8).contains(&p),
            5..=8 => (1..=5).contains(&p),
            _ => false,
        };
        ok.then_some(Tooth(code))
    }

    /// Every tooth: the 32 permanent then the 20 primary, in FDI order.
    pub fn all() -> impl Iterator<Item = Tooth> {
        (11..=85).filter_map(Tooth::from_fdi)
    }

    pub fn fdi(self) -> u8 {
        self.0
    }

    pub fn is_primary(self) -> bool {
        self.0 >= 50
    }

    /// 1 upper right, 2 upper left, 3 lower left, 4 lower right (the patient's sides), for
    /// both dentitions.
    pub fn quadrant(self) -> u8 {
        let q = self.0 / 10;
        if q > 4 { q - 4 } else { q }
    }

    /// 1 (central incisor) to 8 (third molar); primary teeth 1–5.
    pub fn position(self) -> u8 {
        self.0 % 10
    }

    pub fn is_upper(self) -> bool {
        self.quadrant() <= 2
    }

    /// Universal number (`"1"`–`"32"`) or letter (`"A"`–`"T"`).
    pub fn universal(self) -> String {
        let p = self.position();
        if self.is_primary() {
            let index = match self.quadrant() {
                1 => 5 - p,
                2 => 4 + p,
                3 => 15 - p,
                _ => 14 + p,
            };
            char::from(b'A' + index).to_string()
        } else {
            let n = match self.quadrant() {
                1 => 9 - p,
                2 => 8 + p,
                3 => 25 - p,
                _ => 24 + p,
            };
            n.to_string()
        }
    }

    /// Palmer in text form: quadrant then number or letter, `UR6`, `LLE`.
    pub fn palmer(self) -> String {
        let q = PALMER_QUADRANTS[usize::from(self.quadrant() - 1)];
        let p = self.position();
        if self.is_primary() { format!("{q}{}", char::from(b'A' + p - 1)) } else { format!("{q}{p}") }
    }

    pub fn format(self, notation: Notation) -> String {
        match notation {
            Notation::Fdi => self.0.to_string(),
            Notation::Universal => self.universal(),
            Notation::Palmer => self.palmer(),
        }
    }

    /// Reads one tooth written in `notation`. Surrounding spaces and letter case do not matter.
    pub fn parse(text: &str, notation: Notation) -> Result<Tooth, ToothError> {
        let t = text.trim();
        let found = match notation {
            Notation::Fdi => t.parse::<u8>().ok().filter(|_| t.len() == 2).and_then(Tooth::from_fdi),
            Notation::Universal => parse_universal(t),
            Notation::Palmer => parse_palmer(t),
        };
        found.ok_or_else(|| ToothError::NotATooth { text: t.to_string(), notation, hint: hint(notation) })
    }
}

fn parse_universal(t: &str) -> Option<Tooth> {
    if let Ok(n) = t.parse::<u8>() {
        let (q, p) = match n {
            1..=8 => (1, 9 - n),
            9..=16 => (2, n - 8),
            17..=24 => (3, 25 - n),
            25..=32 => (4, n - 24),
            _ => return None,
        };
        return Tooth::from_fdi(q * 10 + p);
    }
    let mut chars = t.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else { return None };
    let c = c.to_ascii_uppercase();
    if !c.is_ascii_uppercase() || c > 'T' {
        return None;
    }
    let i = c as u8 - b'A';
    let (q, p) = match i {
        0..=4 => (5, 5 - i),
        5..=9 => (6, i - 4),
        10..=14 => (7, 15 - i),
        _ => (8, i - 14),
    };
    Tooth::from_fdi(q * 10 + p)
}

/// The quadrant a Palmer bracket stands for, whichever side of the number it is written on:
/// the box-drawing corners and the Unicode dentistry symbols.
fn bracket_quadrant(c: char) -> Option<u8> {
    match c {
        '┘' | '⏌' => Some(1),
        '└' | '⎿' => Some(2),
        '┌' | '⎾' => Some(3),
        '┐' | '⏋' => Some(4),
        _ => None,
    }
}

fn parse_palmer(t: &str) -> Option<Tooth> {
    let upper = t.to_ascii_uppercase();
    let (quadrant, rest) = if let Some(i) = PALMER_QUADRANTS.iter().position(|q| upper.starts_with(q)) {
        (i as u8 + 1, upper[2..].trim().to_string())
    } else {
        let brackets: Vec<(usize, char)> =
            upper.char_indices().filter(|(_, c)| bracket_quadrant(*c).is_some()).collect();
        let [(at, c)] = brackets[..] else { return None };
        let rest: String = upper.chars().filter(|ch| *ch != c).collect();
        let q = bracket_quadrant(c)?;
        // The bracket sits to the right of right-side teeth and to the left of left-side ones.
        let bracket_first = at == 0;
        if bracket_first != matches!(q, 2 | 3) {
            return None;
        }
        (q, rest.trim().to_string())
    };
    let mut chars = rest.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else { return None };
    match c {
        '1'..='8' => Tooth::from_fdi(quadrant * 10 + (c as u8 - b'0')),
        'A'..='E' => Tooth::from_fdi((quadrant + 4) * 10 + (c as u8 - b'A' + 1)),
        _ => None,
    }
}

impl fmt::Display for Tooth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A set of teeth: sorted, no repeats. Stored as FDI codes joined by commas (`"11,21"`),
/// which a gallery filter can match as `,11,` inside `,<stored>,`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teeth(Vec<Tooth>);

impl Teeth {
    pub fn new(mut teeth: Vec<Tooth>) -> Teeth {
        teeth.sort();
        teeth.dedup();
        Teeth(teeth)
    }

    pub fn as_slice(&self) -> &[Tooth] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a list written in `notation`, separated by commas, semicolons or spaces
    /// (`"UR6, UL6"`, `"3 14"`, `"16;26"`). An empty text is an empty set.
    pub fn parse(text: &str, notation: Notation) -> Result<Teeth, ToothError> {
        let parts = text.split([',', ';', ' ', '\t', '\n']).filter(|s| !s.trim().is_empty());
        let mut teeth = Vec::new();
        for part in parts {
            teeth.push(Tooth::parse(part, notation)?);
        }
        Ok(Teeth::new(teeth))
    }

    /// The stored form, `"11,21"`.
    pub fn canonical(&self) -> String {
        self.format(Notation::Fdi, ",")
    }

    /// Reads the stored form; anything else is an error (stored values are always canonical).
    pub fn from_canonical(stored: &str) -> Result<Teeth, ToothError> {
        let mut teeth = Vec::new();
        for part in stored.split(',').filter(|s| !s.is_empty()) {
            teeth.push(Tooth::parse(part, Notation::Fdi)?);
        }
        Ok(Teeth::new(teeth))
    }

    pub fn format(&self, notation: Notation, separator: &str) -> String {
        self.0.iter().map(|t| t.format(notation)).collect::<Vec<_>>().join(separator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published tables, written out independently of the arithmetic above: FDI →
    /// Universal for the whole permanent and primary dentitions.
    #[rustfmt::skip]
    const UNIVERSAL_TABLE: [(u8, &str); 52] = [
        (18, "1"), (17, "2"), (16, "3"), (15, "4"), (14, "5"), (13, "6"), (12, "7"), (11, "8"),
        (21, "9"), (22, "10"), (23, "11"), (24, "12"), (25, "13"), (26, "14"), (27, "15"), (28, "16"),
        (38, "17"), (37, "18"), (36, "19"), (35, "20"), (34, "21"), (33, "22"), (32, "23"), (31, "24"),
        (41, "25"), (42, "26"), (43, "27"), (44, "28"), (45, "29"), (46, "30"), (47, "31"), (48, "32"),
        (55, "A"), (54, "B"), (53, "C"), (52, "D"), (51, "E"), (61, "F"), (62, "G"), (63, "H"), (64, "I"), (65, "J"),
        (75, "K"), (74, "L"), (73, "M"), (72, "N"), (71, "O"), (81, "P"), (82, "Q"), (83, "R"), (84, "S"), (85, "T"),
    ];

    #[test]
    fn there_are_52_teeth() {
        assert_eq!(Tooth::all().count(), 52);
        assert_eq!(Tooth::all().filter(|t| t.is_primary()).count(), 20);
    }

    #[test]
    fn universal_matches_the_published_table_both_ways() {
        for (fdi, uni) in UNIVERSAL_TABLE {
            let t = Tooth::from_fdi(fdi).expect("a tooth");
            assert_eq!(t.universal(), uni, "FDI {fdi}");
            assert_eq!(Tooth::parse(uni, Notation::Universal), Ok(t), "Universal {uni}");
            assert_eq!(Tooth::parse(&uni.to_lowercase(), Notation::Universal), Ok(t));
        }
    }

    #[test]
    fn palmer_examples() {
        let cases =
            [(16, "UR6"), (21, "UL1"), (38, "LL8"), (44, "LR4"), (55, "URE"), (61, "ULA"), (75, "LLE"), (83, "LRC")];
        for (fdi, palmer) in cases {
            let t = Tooth::from_fdi(fdi).expect("a tooth");
            assert_eq!(t.palmer(), palmer);
            assert_eq!(Tooth::parse(palmer, Notation::Palmer), Ok(t));
        }
        let sixteen = Tooth::from_fdi(16);
        for written in ["6┘", "6⏌", "ur6", "UR 6"] {
            assert_eq!(Tooth::parse(written, Notation::Palmer).ok(), sixteen, "{written}");
        }
        assert_eq!(Tooth::parse("└1", Notation::Palmer).ok(), Tooth::from_fdi(21));
        assert_eq!(Tooth::parse("┌8", Notation::Palmer).ok(), Tooth::from_fdi(38));
        assert_eq!(Tooth::parse("4┐", Notation::Palmer).ok(), Tooth::from_fdi(44));
        assert_eq!(Tooth::parse("E┘", Notation::Palmer).ok(), Tooth::from_fdi(55));
        // A bracket on the wrong side names no tooth.
        assert!(Tooth::parse("┘6", Notation::Palmer).is_err());
        assert!(Tooth::parse("1└", Notation::Palmer).is_err());
    }

    /// Every tooth, every pair of notations: formatting in one and reading it back gives the
    /// same tooth, and the three forms of one tooth are distinct teeth's forms nowhere else.
    #[test]
    fn every_tooth_round_trips_through_every_notation() {
        for t in Tooth::all() {
            for n in Notation::ALL {
                assert_eq!(Tooth::parse(&t.format(n), n), Ok(t), "{t} in {n}");
            }
        }
        for n in Notation::ALL {
            let forms: std::collections::HashSet<String> = Tooth::all().map(|t| t.format(n)).collect();
            assert_eq!(forms.len(), 52, "{n} gives every tooth its own form");
        }
    }

    /// Everything that is not a tooth is refused with the notation's hint, in all notations.
    #[test]
    fn non_teeth_are_refused() {
        for code in 0..=255u8 {
            let valid = Tooth::all().any(|t| t.fdi() == code);
            assert_eq!(Tooth::parse(&code.to_string(), Notation::Fdi).is_ok(), valid, "FDI {code}");
        }
        for bad in ["0", "33", "U", "", "1A"] {
            assert!(Tooth::parse(bad, Notation::Universal).is_err(), "{bad}");
        }
        for bad in ["UR9", "URF", "UR", "XX6", "U6", "UR66"] {
            let e = Tooth::parse(bad, Notation::Palmer).expect_err(bad);
            assert!(e.to_string().contains("UR6"), "{e}");
        }
        assert!(Tooth::parse("09", Notation::Fdi).is_err());
    }

    #[test]
    fn lists_parse_sort_dedup_and_store_canonically() {
        let t = Teeth::parse("UL6, UR6;UR6", Notation::Palmer).expect("valid");
        assert_eq!(t.canonical(), "16,26");
        assert_eq!(t.format(Notation::Universal, " "), "3 14");
        assert_eq!(Teeth::from_canonical("16,26"), Ok(t));
        assert_eq!(Teeth::parse("  ", Notation::Fdi), Ok(Teeth::default()));
        assert!(Teeth::parse("11, 99", Notation::Fdi).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_set_round_trips_through_any_notation(codes in proptest::collection::vec(0usize..52, 0..12), n in 0usize..3) {
            let all: Vec<Tooth> = Tooth::all().collect();
            let set = Teeth::new(codes.iter().map(|i| all[*i]).collect());
            let notation = Notation::ALL[n];
            let written = set.format(notation, ", ");
            proptest::prop_assert_eq!(Teeth::parse(&written, notation), Ok(set.clone()));
            proptest::prop_assert_eq!(Teeth::from_canonical(&set.canonical()), Ok(set));
        }
    }
}
