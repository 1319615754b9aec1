//! The Tantivy schema. Two sorts of document share one index so that a commit is atomic for
//! both: *passages* (what search returns) and one *file record* per file (path, size, mtime,
//! content hash, skip reason) that lets an update re-read only what changed. File records
//! have no text fields, so no text query can ever match them.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};

/// Bump when the schema or what goes into it changes: an index with another version is
/// rebuilt (with a message) instead of being misread.
pub const SCHEMA_VERSION: u32 = 3;

pub(crate) const PASSAGE: &str = "passage";
pub(crate) const FILE: &str = "file";

/// Handles to every field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub doc_type: Field,
    pub path: Field,
    /// The path, on file records only: deleting a file's passages (`path`) and replacing its
    /// record are separate terms, so a touched-but-unchanged file keeps its passages.
    pub record_of: Field,
    pub folder: Field,
    /// Every ancestor directory of the file: `--in DIR` filters and deleting a removed
    /// directory's files are one term each.
    pub dirs: Field,
    /// The file's directory, on file records: the watcher loads the records of the
    /// directories an event touched, not all of them.
    pub parent: Field,
    pub title: Field,
    pub headings: Field,
    pub body: Field,
    pub kind: Field,
    pub modified: Field,
    pub line_start: Field,
    pub line_end: Field,
    pub local_only: Field,
    /// A hash of the passage's text as embedded ([`crate::meaning::passage_key`]): the key of
    /// its vector, so vectors follow content, not documents.
    pub passage_key: Field,
    pub size: Field,
    pub mtime_ns: Field,
    pub hash: Field,
    pub passages: Field,
    pub skipped: Field,
    pub note: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        doc_type: b.add_text_field("doc_type", STRING | STORED),
        path: b.add_text_field("path", STRING | STORED),
        record_of: b.add_text_field("record_of", STRING | STORED),
        folder: b.add_text_field("folder", STRING | STORED),
        dirs: b.add_text_field("dirs", STRING),
        parent: b.add_text_field("parent", STRING),
        title: b.add_text_field("title", text.clone()),
        headings: b.add_text_field("headings", text.clone()),
        body: b.add_text_field("body", text),
        kind: b.add_text_field("kind", STRING | STORED),
        modified: b.add_i64_field("modified", INDEXED | FAST | STORED),
        line_start: b.add_u64_field("line_start", STORED),
        line_end: b.add_u64_field("line_end", STORED),
        local_only: b.add_bool_field("local_only", STORED),
        passage_key: b.add_u64_field("passage_key", INDEXED | FAST | STORED),
        size: b.add_u64_field("size", STORED),
        mtime_ns: b.add_i64_field("mtime_ns", STORED),
        hash: b.add_text_field("hash", STORED),
        passages: b.add_u64_field("passages", STORED),
        skipped: b.add_text_field("skipped", STORED),
        note: b.add_text_field("note", STORED),
    };
    (b.build(), fields)
}
