//! SUI amounts as people write them (`1.5`) and as the chain counts them (MIST).

/// MIST in one SUI.
pub const MIST_PER_SUI: u64 = 1_000_000_000;

/// `mist` as SUI without trailing zeros (`1.5 SUI`).
pub fn format_sui(mist: u64) -> String {
    let (whole, frac) = (mist / MIST_PER_SUI, mist % MIST_PER_SUI);
    if frac == 0 {
        format!("{whole} SUI")
    } else {
        format!("{whole}.{}", format!("{frac:09}").trim_end_matches('0')) + " SUI"
    }
}

/// Parses a SUI amount (`2`, `0.5`, `1.25 SUI`) into MIST.
pub fn parse_sui(text: &str) -> Result<u64, String> {
    let number = text.trim().trim_end_matches("SUI").trim();
    let invalid = || format!("{text:?} is not a SUI amount (e.g. 1 or 0.5)");
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 9 {
        return Err(invalid());
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
    let frac: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| invalid())? };
    whole.checked_mul(MIST_PER_SUI).and_then(|w| w.checked_add(frac)).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip() {
        assert_eq!(format_sui(1_500_000_000), "1.5 SUI");
        assert_eq!(format_sui(2_000_000_000), "2 SUI");
        assert_eq!(format_sui(1), "0.000000001 SUI");
        assert_eq!(parse_sui("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_sui("0.5 SUI").unwrap(), 500_000_000);
        assert_eq!(parse_sui(".25").unwrap(), 250_000_000);
        for bad in ["", "abc", "1.0000000001", "-1", "99999999999999999999"] {
            assert!(parse_sui(bad).is_err(), "{bad}");
        }
    }
}
