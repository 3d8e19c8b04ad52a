"""The Textual view (the dashboard app in `app`); a package so the import contracts can name it."""
