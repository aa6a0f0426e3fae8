//! SMS segment arithmetic (GSM 03.38): how many SMS a text is sent (and billed) as.

/// GSM-7 default alphabet (one septet each), without the escape code.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM-7 extension table (escape + character: two septets each).
const GSM7_EXTENSION: &str = "\u{000C}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` when it is not representable (the text then goes as UCS-2).
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The number of SMS segments `text` is sent as. If every character is in the GSM-7 alphabet: one segment up to
/// 160 septets, otherwise 153 septets per segment (extension characters such as `€` or `[` count two and are
/// never split across segments). Any other character switches the whole text to UCS-2: one segment up to 70
/// UTF-16 units, otherwise 67 per segment (a character outside the BMP, e.g. an emoji, takes two units and is
/// never split). An empty text is one segment.
///
/// Senders decide what to do with long texts (Twilio accepts up to 1600 characters); alert texts should stay
/// within two segments.
pub fn sms_segments(text: &str) -> usize {
    let gsm: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    let (costs, single, multi) = match gsm {
        Some(costs) => (costs, 160, 153),
        None => (text.chars().map(char::len_utf16).collect(), 70, 67),
    };
    let total: usize = costs.iter().sum();
    if total <= single {
        return 1;
    }
    let mut segments = 1;
    let mut used = 0;
    for cost in costs {
        if used + cost > multi {
            segments += 1;
            used = 0;
        }
        used += cost;
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_limits() {
        assert_eq!(sms_segments(""), 1);
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        // German umlauts and the pound sign are in the GSM-7 alphabet.
        assert_eq!(sms_segments(&"ä£".repeat(80)), 1);
    }

    #[test]
    fn extension_characters_count_two_and_are_not_split() {
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
        // 152 septets, then an escape pair that does not fit in the first 153-septet segment.
        let text = format!("{}{}", "a".repeat(152), "[".repeat(5));
        assert_eq!(sms_segments(&text), 2);
        let text = format!("{}[{}", "a".repeat(152), "a".repeat(153));
        assert_eq!(sms_segments(&text), 3);
    }

    #[test]
    fn ucs2_limits() {
        assert_eq!(sms_segments(&"ж".repeat(70)), 1);
        assert_eq!(sms_segments(&"ж".repeat(71)), 2);
        assert_eq!(sms_segments(&"ж".repeat(134)), 2);
        assert_eq!(sms_segments(&"ж".repeat(135)), 3);
        // One non-GSM character turns the whole text into UCS-2.
        assert_eq!(sms_segments(&format!("{}ç", "a".repeat(70))), 2);
        // Emoji take two UTF-16 units and are never split.
        assert_eq!(sms_segments(&"👍".repeat(35)), 1);
        assert_eq!(sms_segments(&format!("{}👍", "ж".repeat(69))), 2);
        // 134 units would fit in two segments, but the emoji cannot straddle the first boundary.
        assert_eq!(sms_segments(&format!("{}👍{}", "ж".repeat(66), "ж".repeat(66))), 3);
    }
}
