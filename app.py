"""embedviz dashboard: page config, shared sidebar, navigation."""

import streamlit as st

from embedviz.ui import compute, layout

st.set_page_config(page_title="embedviz", page_icon="🔭", layout="wide")
layout.server_logging()
pages = st.navigation(
    [
        st.Page("pages/map.py", title="Map", icon=":material/map:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/description:"),
        st.Page("pages/search.py", title="Search", icon=":material/search:"),
        st.Page("pages/clusters.py", title="Clusters", icon=":material/hub:"),
        st.Page("pages/insights.py", title="Insights", icon=":material/insights:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    ]
)
layout.sidebar()
pages.run()
# After the page is drawn: the first map of a new server (the sample's) waits for neither the
# model nor UMAP's compilation, which would hold the import lock t-SNE's module check waits on.
compute.warm_up()
