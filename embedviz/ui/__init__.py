"""The Streamlit adapter: session state, cached compute, shared widgets. The only part of
embedviz that imports Streamlit; pages call it and the library, and render."""
