"""The documents of an SAE or a SUSAR, rendered: the site's bilingual SAE report (PDF and HTML), CIOMS I (PDF)
and the E2B(R3) ICSR (XML), for every version of every case (``write_documents``). The records they lay out are
built in the core (safety/documents/)."""

from streams.documents.write import DocumentIndex, write_documents

__all__ = ["DocumentIndex", "write_documents"]
