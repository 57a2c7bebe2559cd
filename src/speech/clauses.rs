//! Text cut into pieces that can be synthesized one after another while the first already plays: sentences, then
//! clauses at `,` `;` `:` and dashes, with the first piece kept short (first audio sooner) and no piece so short that
//! its prosody breaks. Pieces keep their punctuation (engines use it for intonation and pauses).

/// Words a piece should have at least (shorter clauses are joined to the next one of their sentence).
pub const MIN_PIECE_WORDS: usize = 3;
/// Words the first piece may have before it is cut at the next clause boundary or, failing one, at a word.
pub const FIRST_PIECE_WORDS: usize = 6;
/// Words any later piece may have before it is cut at a word (engines handle long sentences, but first audio of a
/// long unpunctuated text must not wait for all of it).
pub const MAX_PIECE_WORDS: usize = 24;

/// Abbreviations whose final `.` does not end a sentence (lower case, without the dot).
const ABBREVIATIONS: [&str; 16] =
    ["mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "no", "jr", "sr", "mt", "inc", "approx"];

/// The pieces of `text`, in order, trimmed, none empty. Joining them with spaces gives the text's words back.
pub fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in sentences(text) {
        let mut current: Vec<&str> = Vec::new();
        let cut = clauses(&sentence);
        for clause in &cut {
            current.extend(clause.split_whitespace());
            if current.len() >= MIN_PIECE_WORDS {
                flush(&mut out, &mut current);
            }
        }
        if !current.is_empty() {
            // A short tail joins the previous piece of its sentence when there is one.
            match out.last_mut() {
                Some(last) if current.len() < MIN_PIECE_WORDS && !ends_sentence(last) => {
                    last.push(' ');
                    last.push_str(&current.join(" "));
                }
                _ => flush(&mut out, &mut current),
            }
            current.clear();
        }
    }
    limit_lengths(out)
}

fn flush(out: &mut Vec<String>, words: &mut Vec<&str>) {
    if !words.is_empty() {
        out.push(words.join(" "));
        words.clear();
    }
}

fn ends_sentence(piece: &str) -> bool {
    piece.ends_with(['.', '!', '?'])
}

/// The first piece at most [`FIRST_PIECE_WORDS`] words, the rest at most [`MAX_PIECE_WORDS`], cut at words.
fn limit_lengths(pieces: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in pieces {
        let words: Vec<&str> = p.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let max = if out.is_empty() { FIRST_PIECE_WORDS } else { MAX_PIECE_WORDS };
            let rest = words.len() - i;
            // Never leave a tail shorter than MIN_PIECE_WORDS behind a cut.
            let take = if rest <= max {
                rest
            } else if rest - max < MIN_PIECE_WORDS {
                rest - MIN_PIECE_WORDS
            } else {
                max
            };
            out.push(words[i..i + take.max(1)].join(" "));
            i += take.max(1);
        }
    }
    out
}

/// Sentences: cut after `.`, `!`, `?` (and closing quotes/brackets after them) followed by white space, except
/// after an abbreviation, an initial (`J. R. R.`) or inside a number (`3.5`).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(pos, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        // Closing punctuation belongs to the sentence.
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '"' | '\'' | ')' | ']' | '”' | '’' | '.' | '!' | '?') {
            j += 1;
        }
        let at_end = j == chars.len();
        if !at_end && !chars[j].1.is_whitespace() {
            continue;
        }
        if c == '.' && is_abbreviation(&text[start..pos]) {
            continue;
        }
        let end = if at_end { text.len() } else { chars[j].0 };
        push_trimmed(&mut out, &text[start..end]);
        start = end;
    }
    push_trimmed(&mut out, &text[start..]);
    out
}

fn is_abbreviation(before: &str) -> bool {
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"').next().unwrap_or("");
    let lower = word.to_lowercase();
    (word.chars().count() == 1 && word.chars().all(char::is_uppercase)) || ABBREVIATIONS.contains(&lower.as_str())
}

/// Clauses of one sentence: cut after `,` `;` `:` and around dashes (` - `, `—`, `–`) followed by white space,
/// never inside a number (`1,000`).
fn clauses(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = sentence.char_indices().collect();
    for (i, &(pos, c)) in chars.iter().enumerate() {
        let next_ws = chars.get(i + 1).is_none_or(|&(_, n)| n.is_whitespace());
        let prev_ws = i == 0 || chars[i - 1].1.is_whitespace();
        let cut = match c {
            ',' | ';' | ':' => next_ws,
            '—' | '–' => true,
            '-' => prev_ws && next_ws,
            _ => false,
        };
        if cut {
            let end = pos + c.len_utf8();
            push_trimmed(&mut out, &sentence[start..end]);
            start = end;
        }
    }
    push_trimmed(&mut out, &sentence[start..]);
    out
}

fn push_trimmed(out: &mut Vec<String>, s: &str) {
    let t = s.trim();
    if !t.is_empty() {
        out.push(t.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn sentences_and_clauses_keep_every_word_in_order() {
        let text = "Welcome to the museum, it opens at nine. Dr. Smith is here today; ask her anything! \
                    The tickets cost 3.50 each, or 1,000 for the year.";
        let p = pieces(text);
        assert_eq!(words(&p.join(" ")), words(text));
        assert_eq!(p[0], "Welcome to the museum,");
        assert!(p.contains(&"it opens at nine.".to_string()), "{p:?}");
        assert!(p.iter().any(|s| s.starts_with("Dr. Smith")), "the abbreviation does not end a sentence: {p:?}");
        assert!(p.iter().any(|s| s.contains("3.50 each,")), "a decimal point is no boundary: {p:?}");
        assert!(p.iter().any(|s| s.contains("or 1,000 for the year.")), "a thousands comma is no boundary: {p:?}");
    }

    #[test]
    fn the_first_piece_is_short_and_no_piece_is_tiny() {
        let text = "Hello there my friend and welcome to our wonderful shop where everything is on sale today";
        let p = pieces(text);
        assert_eq!(p[0].split_whitespace().count(), FIRST_PIECE_WORDS);
        assert!(p.iter().all(|s| s.split_whitespace().count() >= MIN_PIECE_WORDS), "{p:?}");
        assert_eq!(words(&p.join(" ")), words(text));
        // Short clauses are joined, not spoken alone.
        let p = pieces("Yes, sir, right away, of course.");
        assert!(p.iter().all(|s| s.split_whitespace().count() >= MIN_PIECE_WORDS), "{p:?}");
    }

    #[test]
    fn a_short_or_blank_text_is_one_or_no_piece() {
        assert_eq!(pieces("Hi."), vec!["Hi.".to_string()]);
        assert!(pieces("  \n ").is_empty());
        assert_eq!(pieces("Wait — what?"), vec!["Wait — what?".to_string()]);
    }

    #[test]
    fn long_unpunctuated_text_is_cut_at_words() {
        let text = vec!["word"; 60].join(" ");
        let p = pieces(&text);
        assert!(p.iter().all(|s| s.split_whitespace().count() <= MAX_PIECE_WORDS), "{p:?}");
        assert_eq!(p.iter().map(|s| s.split_whitespace().count()).sum::<usize>(), 60);
    }
}
