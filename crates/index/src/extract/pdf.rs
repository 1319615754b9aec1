//! PDF text through `pdf-extract` (lopdf below it). That reader can panic or allocate wildly
//! on a damaged file, so it runs behind a panic guard and only on files under the size limit.

use super::{paragraphs, Extracted};

/// Extracts the text of a PDF, page by page (pages become paragraph breaks).
pub fn extract(bytes: &[u8]) -> Result<Extracted, String> {
    if !bytes.starts_with(b"%PDF") {
        return Err("not a PDF file (no %PDF header)".into());
    }
    let pages = frugal_guard::quietly(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .ok_or_else(|| "corrupt PDF (the reader gave up on it)".to_string())?
        .map_err(|e| format!("unreadable PDF: {}", crate::error::first_line(&e.to_string())))?;
    let text = pages.join("\n\n");
    if text.trim().is_empty() {
        return Err("PDF has no text layer (scanned pages are not read)".into());
    }
    Ok(Extracted { title: None, blocks: paragraphs(&text, 1), note: None })
}
