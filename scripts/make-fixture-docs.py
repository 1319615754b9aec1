#!/usr/bin/env python3
"""Writes the two binary fixtures of tests/fixtures/corpus (a PDF and a Word file) from the
text below, with nothing but the standard library, so they can be re-made and reviewed."""
import pathlib
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "docs"

PDF_LINES = [
    "Northwind quarterly report, Q3 2025",
    "",
    "Revenue for the third quarter was 4.2 million euros, up 12 percent on Q2.",
    "Customer churn fell to 3.1 percent; the net promoter score rose to 41.",
    "The Lisbon support office opened in August with nine agents.",
]

DOCX_PARAS = [
    ("Heading1", "Security handbook"),
    ("Heading2", "Passwords"),
    (None, "Everyone must use the company password manager, 1Password, for every work account."),
    (None, "Two-factor authentication is required for email, the VPN and the code repository."),
    ("Heading2", "Phishing"),
    (None, "Forward suspicious emails to security@northwind.example and do not click any links."),
]


def pdf() -> bytes:
    text = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*" for line in PDF_LINES
    ) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def docx(path: pathlib.Path) -> None:
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = ""
    for style, text in DOCX_PARAS:
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        body += f"<w:p>{ppr}<w:r><w:t>{text}</w:t></w:r></w:p>"
    document = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {ns}><w:body>{body}</w:body></w:document>'
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("word/document.xml", document)


if __name__ == "__main__":
    ROOT.mkdir(parents=True, exist_ok=True)
    (ROOT / "q3-report.pdf").write_bytes(pdf())
    docx(ROOT / "security-handbook.docx")
    print("wrote", ROOT / "q3-report.pdf", ROOT / "security-handbook.docx")
