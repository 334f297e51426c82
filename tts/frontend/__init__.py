"""Text to symbol ids: normalisation, phonemisation, the symbol table and the pipeline that joins them."""
