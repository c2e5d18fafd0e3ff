//! What of a tool result is scanned, and how a redacted scan is put back.
//!
//! The scanned text is what enters the model's context: text blocks and
//! the text of embedded resources, and the structured content. When a
//! result has structured content and every text block repeats it (the
//! whole serialized JSON, or one of its string values, as the reference
//! servers do), the structured content alone is scanned, as compact JSON,
//! so a redaction can be put back into both. Otherwise the texts are
//! scanned joined by newlines (with the structured JSON after them).
//!
//! Putting a redaction back never guesses: if the redacted text does not
//! map onto the result's shape, the result is withheld. Images, audio and
//! resource links are not text and pass unscanned. Pure: no I/O.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;

/// How the scanned text was made from a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// The texts, joined by `\n`.
    Texts,
    /// The structured content as compact JSON; each text block is either
    /// that JSON or the string at a JSON pointer into it.
    Structured(Vec<Option<String>>),
    /// `{"structuredContent": ..., "text": [...]}` as compact JSON: the
    /// texts do not all repeat the structured content.
    Both,
}

/// The text to scan for a result, and its shape.
pub fn scanned_text(result: &CallToolResult) -> (String, Shape) {
    let texts: Vec<&str> = result.content.iter().filter_map(block_text).collect();
    let Some(structured) = &result.structured_content else {
        return (texts.join("\n"), Shape::Texts);
    };
    let json = structured.to_string();
    let mut pointers = Vec::with_capacity(texts.len());
    for text in &texts {
        if *text == json || serde_json::from_str::<Value>(text).ok().as_ref() == Some(structured) {
            pointers.push(None);
        } else if let Some(p) = pointer_to_string(structured, text) {
            pointers.push(Some(p));
        } else {
            let both = serde_json::json!({"structuredContent": structured, "text": texts});
            return (both.to_string(), Shape::Both);
        }
    }
    (json, Shape::Structured(pointers))
}

fn block_text(block: &ContentBlock) -> Option<&str> {
    match block {
        ContentBlock::Text(t) => Some(&t.text),
        ContentBlock::Resource(r) => match &r.resource {
            ResourceContents::TextResourceContents { text, .. } => Some(text),
            _ => None,
        },
        _ => None,
    }
}

fn block_text_mut(block: &mut ContentBlock) -> Option<&mut String> {
    match block {
        ContentBlock::Text(t) => Some(&mut t.text),
        ContentBlock::Resource(r) => match &mut r.resource {
            ResourceContents::TextResourceContents { text, .. } => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON pointer of the first string in `value` equal to `needle`.
fn pointer_to_string(value: &Value, needle: &str) -> Option<String> {
    // Iterative, so a deeply nested result cannot exhaust the stack.
    let mut stack: Vec<(&Value, String)> = vec![(value, String::new())];
    while let Some((v, path)) = stack.pop() {
        match v {
            Value::String(s) if s == needle => return Some(path),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push((item, format!("{path}/{i}")));
                }
            }
            Value::Object(map) => {
                let mut fields: Vec<_> = map.iter().collect();
                fields.reverse();
                for (k, item) in fields {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    stack.push((item, format!("{path}/{key}")));
                }
            }
            _ => {}
        }
    }
    None
}

/// Why a redaction could not be put back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the redacted result does not fit the tool's result: {0}")]
pub struct Unfit(pub String);

/// The result with the redacted text in place of what was scanned.
pub fn with_redaction(
    result: &CallToolResult,
    shape: &Shape,
    redacted: &str,
) -> Result<CallToolResult, Unfit> {
    let mut out = result.clone();
    match shape {
        Shape::Texts => {
            let mut first = true;
            out.content.retain_mut(|block| match block_text_mut(block) {
                Some(text) if first => {
                    first = false;
                    redacted.clone_into(text);
                    true
                }
                Some(_) => false,
                None => true,
            });
            if first && !redacted.is_empty() {
                out.content.insert(0, ContentBlock::text(redacted));
            }
            if out.structured_content.is_some() {
                return Err(Unfit("structured content without a shape".into()));
            }
        }
        Shape::Structured(pointers) => {
            let value: Value = serde_json::from_str(redacted)
                .map_err(|e| Unfit(format!("the redacted JSON does not parse: {e}")))?;
            let mut texts = out.content.iter_mut().filter_map(block_text_mut);
            for pointer in pointers {
                let text = texts
                    .next()
                    .ok_or_else(|| Unfit("a text block went missing".into()))?;
                *text = match pointer {
                    None => value.to_string(),
                    Some(p) => value
                        .pointer(p)
                        .and_then(Value::as_str)
                        .ok_or_else(|| Unfit(format!("no string at `{p}` after redaction")))?
                        .to_owned(),
                };
            }
            out.structured_content = Some(value);
        }
        Shape::Both => {
            let value: Value = serde_json::from_str(redacted)
                .map_err(|e| Unfit(format!("the redacted JSON does not parse: {e}")))?;
            let structured = value
                .get("structuredContent")
                .cloned()
                .ok_or_else(|| Unfit("`structuredContent` went missing".into()))?;
            let new_texts = value
                .get("text")
                .and_then(Value::as_array)
                .ok_or_else(|| Unfit("`text` went missing".into()))?;
            let mut texts = out.content.iter_mut().filter_map(block_text_mut);
            for new in new_texts {
                let text = texts
                    .next()
                    .ok_or_else(|| Unfit("a text block went missing".into()))?;
                new.as_str()
                    .ok_or_else(|| Unfit("a text became a non-string".into()))?
                    .clone_into(text);
            }
            if texts.next().is_some() {
                return Err(Unfit("a text block was dropped".into()));
            }
            out.structured_content = Some(structured);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use serde_json::json;

    fn result(v: Value) -> CallToolResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn plain_texts_are_joined_and_replaced_by_one() {
        let r = result(
            json!({"content": [{"type": "text", "text": "a 1"}, {"type": "image", "data": "AA==", "mimeType": "image/png"}, {"type": "text", "text": "b 2"}]}),
        );
        let (text, shape) = scanned_text(&r);
        assert_eq!((text.as_str(), &shape), ("a 1\nb 2", &Shape::Texts));
        let out = with_redaction(&r, &shape, "a [R]\nb [R]").unwrap();
        assert_eq!(
            out.content.len(),
            2,
            "the image stays, the texts become one"
        );
        assert_eq!(out.content[0].as_text().unwrap().text, "a [R]\nb [R]");
    }

    #[test]
    fn structured_results_keep_their_schema_after_redaction() {
        // The filesystem server's shape: the text repeats a string of the structured content.
        let r = result(
            json!({"content": [{"type": "text", "text": "ssn 123-45-6789\n"}], "structuredContent": {"content": "ssn 123-45-6789\n"}}),
        );
        let (text, shape) = scanned_text(&r);
        assert_eq!(text, r#"{"content":"ssn 123-45-6789\n"}"#);
        assert_eq!(shape, Shape::Structured(vec![Some("/content".into())]));
        let out = with_redaction(&r, &shape, r#"{"content":"ssn [REDACTED:pii.ssn]\n"}"#).unwrap();
        assert_eq!(
            out.content[0].as_text().unwrap().text,
            "ssn [REDACTED:pii.ssn]\n"
        );
        assert_eq!(
            out.structured_content.unwrap(),
            json!({"content": "ssn [REDACTED:pii.ssn]\n"})
        );
        // The serialized-JSON convention.
        let r = result(
            json!({"content": [{"type": "text", "text": "{\"a\": 1}"}], "structuredContent": {"a": 1}}),
        );
        assert_eq!(scanned_text(&r).1, Shape::Structured(vec![None]));
    }

    #[test]
    fn texts_apart_from_the_structured_content_are_scanned_with_it() {
        let r = result(
            json!({"content": [{"type": "text", "text": "note"}], "structuredContent": {"a": "x"}}),
        );
        let (text, shape) = scanned_text(&r);
        assert_eq!(shape, Shape::Both);
        let redacted = text.replace("note", "[R]");
        let out = with_redaction(&r, &shape, &redacted).unwrap();
        assert_eq!(out.content[0].as_text().unwrap().text, "[R]");
    }

    #[test]
    fn a_redaction_that_breaks_the_shape_is_refused() {
        let r = result(
            json!({"content": [{"type": "text", "text": "x"}], "structuredContent": {"content": "x"}}),
        );
        let (_, shape) = scanned_text(&r);
        assert!(with_redaction(&r, &shape, "{\"content\": [REDACTED]").is_err());
        assert!(with_redaction(&r, &shape, "{\"other\": \"x\"}").is_err());
        assert!(
            with_redaction(&r, &Shape::Texts, "x").is_err(),
            "structured content needs its shape"
        );
    }
}
