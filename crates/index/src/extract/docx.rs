//! Word `.docx`: a zip holding `word/document.xml`. Read with `zip` and `quick-xml`:
//! paragraphs (`w:p`) with their text runs (`w:t`), heading styles for the heading path and
//! the title from `docProps/core.xml`. The archive is checked before inflating anything so a
//! zip bomb is refused, not unpacked.

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{Block, Extracted};

/// The most we inflate from one part of a Word file.
const MAX_PART: u64 = 64 * 1024 * 1024;
/// A ratio no real document reaches; zip bombs do.
const MAX_RATIO: u64 = 200;

/// Extracts the text of a `.docx` file.
pub fn extract(bytes: &[u8]) -> Result<Extracted, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("corrupt Word file: {}", crate::error::first_line(&e.to_string())))?;
    let document = read_part(&mut zip, "word/document.xml")?.ok_or("corrupt Word file: no word/document.xml")?;
    let title = read_part(&mut zip, "docProps/core.xml").ok().flatten().and_then(|x| core_title(&x));
    let mut out = paragraphs_of(&document)?;
    out.title = title.or_else(|| out.blocks.iter().find_map(|b| b.heading_path.first().cloned()));
    Ok(out)
}

fn read_part<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Result<Option<String>, String> {
    let file = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(format!("corrupt Word file: {}", crate::error::first_line(&e.to_string()))),
    };
    let (size, packed) = (file.size(), file.compressed_size().max(1));
    if size > MAX_PART || size / packed > MAX_RATIO {
        return Err(format!("Word file refused: {name} would inflate to {size} bytes (zip bomb?)"));
    }
    let mut text = String::new();
    // `take` guards against a size field that lies.
    file.take(MAX_PART + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("corrupt Word file: {}", crate::error::first_line(&e.to_string())))?;
    if text.len() as u64 > MAX_PART {
        return Err(format!("Word file refused: {name} inflates past {MAX_PART} bytes (zip bomb?)"));
    }
    Ok(Some(text))
}

fn paragraphs_of(xml: &str) -> Result<Extracted, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Extracted::default();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let (mut para, mut level, mut in_text, mut n) = (String::new(), None::<usize>, false, 0u32);
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("corrupt Word file: {}", crate::error::first_line(&e.to_string())))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "tab" => para.push('\t'),
                "br" | "cr" => para.push('\n'),
                "pStyle" => {
                    let val = e.attributes().flatten().find(|a| a.key.local_name().as_ref() == "val");
                    if let Some(a) = val {
                        let style = a.value.to_ascii_lowercase();
                        level = style
                            .strip_prefix("heading")
                            .and_then(|d| d.trim().parse::<usize>().ok())
                            .or((style == "title").then_some(1));
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_text => para.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    para.push(c);
                } else {
                    para.push_str(match r.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    let text = para.trim().to_string();
                    para.clear();
                    if !text.is_empty() {
                        n += 1;
                        if let Some(l) = level.take() {
                            headings.retain(|(x, _)| *x < l);
                            headings.push((l, text));
                        } else {
                            let heading_path = headings.iter().map(|(_, h)| h.clone()).collect();
                            out.blocks.push(Block { heading_path, text, line_start: n, line_end: n });
                        }
                    }
                    level = None;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if out.blocks.is_empty() && headings.is_empty() {
        return Err("Word file has no text".into());
    }
    Ok(out)
}

fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == "title" => in_title = true,
            Event::Text(t) if in_title => {
                let t = t.xml10_content().trim().to_string();
                return (!t.is_empty()).then_some(t);
            }
            Event::End(_) => in_title = false,
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    pub(crate) fn docx(document_xml: &str) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file("word/document.xml", opts).unwrap();
        z.write_all(document_xml.as_bytes()).unwrap();
        z.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn paragraphs_headings_and_entities() {
        let xml = r#"<w:document xmlns:w="w"><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Vendor review</w:t></w:r></w:p><w:p><w:r><w:t>Acme &amp; Co quoted </w:t></w:r><w:r><w:t>4,200 EUR.</w:t></w:r></w:p></w:body></w:document>"#;
        let e = super::extract(&docx(xml)).unwrap();
        assert_eq!(e.title.as_deref(), Some("Vendor review"));
        assert_eq!(e.blocks[0].text, "Acme & Co quoted 4,200 EUR.");
        assert_eq!(e.blocks[0].heading_path, vec!["Vendor review"]);
    }

    #[test]
    fn corrupt_and_bomb_are_refused() {
        assert!(super::extract(b"PK\x03\x04garbage").unwrap_err().starts_with("corrupt Word file"));
        let bomb = docx(&format!("<w:document>{}</w:document>", " ".repeat(30_000_000)));
        assert!(bomb.len() < 100_000);
        assert!(super::extract(&bomb).unwrap_err().contains("zip bomb"));
    }
}
