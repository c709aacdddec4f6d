"""The Streamlit adapter: session state, cached compute, shared widgets. The only part of
embedviz that imports Streamlit; pages call it and the library, and render."""

from embedviz.threads import guard_ast_parse

guard_ast_parse()  # Streamlit compiles each page on its session's thread: see embedviz.threads
