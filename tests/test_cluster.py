from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from embedviz import ClusterParams, InputError, cluster, knn_graph, make_backend
from embedviz.cluster import Clustering
from embedviz.labels import keywords, stop_words, summarize
from embedviz.neighbors import Neighbors
from tests.planted import TOPICS, planted_frame, three_levels


@pytest.fixture(scope="module")
def planted():
    frame = planted_frame(per_topic=30)
    return frame, make_backend("planted").encode(frame["text"].tolist())


@pytest.mark.parametrize(
    "params",
    [
        ClusterParams(),
        ClusterParams(k=5),
        ClusterParams(method="kmeans", k=5),
        ClusterParams(method="kmeans"),
        ClusterParams(method="agglomerative", k=5),
        ClusterParams(method="agglomerative"),
        ClusterParams(method="hdbscan"),
    ],
    ids=["auto", "auto-5", "kmeans-5", "kmeans-auto", "agglomerative-5", "agglomerative-auto", "hdbscan"],
)
def test_planted_topics_are_recovered(planted, params):
    frame, vectors = planted
    result = cluster(vectors, params, neighbors=knn_graph(vectors, 30))
    # auto splits the topics into at least 10 fine clusters, grouped back into 5 broad topics;
    # a method told (or picking) k = 5 finds the topics as its fine clusters
    topics = result.broad if params.method == "auto" and params.k is None else result.labels
    assert adjusted_rand_score(frame["label"], topics) > 0.9
    assert len(set(topics.tolist()) - {-1}) == 5
    assert_nested(result)
    for c in set(result.labels.tolist()) - {-1}:  # each fine cluster inside one topic
        assert frame["label"][result.labels == c].nunique() == 1
    for labels in (result.labels, result.broad):
        sizes = np.bincount(labels[labels >= 0])
        assert (np.diff(sizes) <= 0).all(), "clusters are numbered largest first"


def assert_nested(result) -> None:
    """Every fine cluster lies inside exactly one broad topic; noise stays noise."""
    pairs = set(zip(result.labels.tolist(), result.broad.tolist(), strict=True))
    assert len(pairs) == len({fine for fine, _ in pairs})
    assert all((fine == -1) == (broad == -1) for fine, broad in pairs)


def hierarchy(themes: int = 3, topics: int = 4, per_topic: int = 40, seed: int = 0):
    """Vectors with two planted levels: themes, and topics inside each theme. As in real text,
    about a fifth of a text's 15 nearest neighbours lie in another topic of its theme (none in
    another theme): a graph with no link between topics would not show the themes at all."""
    rng = np.random.default_rng(seed)
    d = 64
    theme_dirs = rng.normal(size=(themes, d))
    rows, theme_of, topic_of = [], [], []
    for t in range(themes):
        for s in range(topics):
            centre = 3.0 * theme_dirs[t] + 1.0 * rng.normal(size=d)
            rows.append(centre + 2.0 * rng.normal(size=(per_topic, d)))
            theme_of += [t] * per_topic
            topic_of += [t * topics + s] * per_topic
    vectors = np.vstack(rows).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, np.array(theme_of), np.array(topic_of)


def assert_within(outer: np.ndarray, inner: np.ndarray, share: float = 1.0) -> None:
    """Each group of `inner` lies (at least `share` of it) in one group of `outer`."""
    for c in np.unique(inner):
        assert np.bincount(outer[inner == c]).max() / (inner == c).sum() >= share


def test_auto_finds_both_planted_levels_nested():
    vectors, themes, topics = hierarchy()
    result = cluster(vectors, neighbors=knn_graph(vectors, 30))
    assert_nested(result)
    # 480 texts: the overview is scored on each text's 8 nearest neighbours, where a theme's
    # topics show less than on 15 (the sizes of the bench, bench/README); it may split a theme
    # but never mixes two
    assert 3 <= result.broad_k <= 6
    assert_within(themes, result.broad)
    assert result.k >= 10
    assert_within(topics, result.labels, 0.9)  # fine clusters never mix topics much


def separate_topics(topics: int = 20, per_topic: int = 60, seed: int = 0):
    """Many broad topics of even size, with no level above them; a text's 15 nearest
    neighbours lie about 15% in other topics."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, 64))
    truth = np.repeat(np.arange(topics), per_topic)
    vectors = centres[truth] + 1.6 * rng.normal(size=(len(truth), 64))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), truth


def test_auto_does_not_collapse_many_even_topics():
    # the fine level finds every topic; the overview groups them into fewer, never 2 or 3
    vectors, truth = separate_topics()
    result = cluster(vectors, neighbors=knn_graph(vectors, 30))
    assert 15 <= result.k <= 30
    assert adjusted_rand_score(truth, result.labels) > 0.85
    assert 5 <= result.broad_k < result.k
    assert_nested(result)


def test_a_small_corpus_keeps_its_topics_apart():
    # 50 texts in 5 topics of 10, embedded by the bundled model: a text's 15 nearest neighbours
    # reach at least 5 texts of other topics, and links that wide merged them into 2 broad topics
    frame = planted_frame(per_topic=10)
    vectors = make_backend("sentence-transformers").encode(frame["text"].tolist())
    result = cluster(vectors)
    assert result.broad_k == 5
    assert adjusted_rand_score(frame["label"], result.broad) > 0.95
    assert_nested(result)


CATEGORIES = {
    "space": "rocket orbit planet astronaut galaxy telescope comet nasa",
    "cooking": "recipe oven flour bake sauce garlic butter kitchen",
    "football": "goal striker penalty league referee match keeper stadium",
    "finance": "stock bond interest market investor dividend bank loan",
    "music": "guitar melody concert chord drummer album singer piano",
    "medicine": "doctor patient fever vaccine nurse hospital surgery symptom",
    "gardening": "tomato seeds soil compost pruning roses weeds greenhouse",
    "cars": "engine tyre gearbox brake mechanic diesel clutch exhaust",
    "law": "judge court lawyer verdict appeal contract lawsuit testimony",
    "weather": "rain storm forecast humidity thunder snowfall drought wind",
    "computers": "keyboard laptop processor software monitor printer memory server",
    "pets": "puppy kitten leash vet aquarium hamster collar parrot",
}


def test_unrelated_categories_are_never_merged_to_make_the_overview_coarser():
    # 180 texts in 12 categories that share no words: the fine level finds them (and splits some);
    # at most half as many topics as fine clusters merged unrelated ones in pairs (9 topics)
    rng = np.random.default_rng(0)
    texts, truth = [], []
    for category, words in CATEGORIES.items():
        for i in range(15):
            texts.append(" ".join(rng.choice(words.split(), 4, replace=False)) + f" {i}")
            truth.append(category)
    result = cluster(make_backend("sentence-transformers").encode(texts))
    assert result.broad_k == 12
    assert adjusted_rand_score(truth, result.broad) > 0.95
    assert_nested(result)


def test_a_kept_ward_tree_is_cut_again_for_another_k(tmp_path, monkeypatch):
    # the tree depends on the texts alone: a topic-count button cuts the stored one again
    from embedviz import Store, corpus_from_frame
    from embedviz.pipeline import clustering, embeddings

    cluster_module = importlib.import_module("embedviz.cluster")
    grown = []
    real = cluster_module._ward_tree
    monkeypatch.setattr(cluster_module, "_ward_tree", lambda *a: grown.append(1) or real(*a))
    corpus = corpus_from_frame(planted_frame(per_topic=40))
    store = Store(tmp_path / "s.sqlite")
    emb = embeddings(corpus, make_backend("planted"), store)
    first = clustering(corpus, emb, ClusterParams(), store)
    again = clustering(corpus, emb, ClusterParams(broad_k=3), store)
    assert len(grown) == 1, "the second k cut the kept tree"
    other = corpus_from_frame(planted_frame(per_topic=41))
    clustering(other, embeddings(other, make_backend("planted"), store), ClusterParams(), store)
    assert len(grown) == 2, "other texts, another tree"
    fresh = cluster(emb.vectors, ClusterParams(broad_k=3), neighbors=knn_graph(emb.vectors, 30))
    assert (again.labels == fresh.labels).all() and (again.broad == fresh.broad).all()
    assert first.clustering.broad_k != again.clustering.broad_k == 3


def test_a_kept_sample_graph_is_searched_once_for_every_k(tmp_path, monkeypatch):
    # above AUTO_SAMPLE texts auto clusters a sample; its neighbour graph is kept like the tree
    from embedviz import Store, corpus_from_frame
    from embedviz.pipeline import clustering, embeddings

    cluster_module = importlib.import_module("embedviz.cluster")
    monkeypatch.setattr(cluster_module, "AUTO_SAMPLE", 120)
    searched = []
    real = cluster_module.knn_graph
    monkeypatch.setattr(cluster_module, "knn_graph", lambda v, k: searched.append(len(v)) or real(v, k))
    corpus = corpus_from_frame(planted_frame(per_topic=40))  # 200 texts
    store = Store(tmp_path / "s.sqlite")
    emb = embeddings(corpus, make_backend("planted"), store)
    clustering(corpus, emb, ClusterParams(), store)
    again = clustering(corpus, emb, ClusterParams(broad_k=3), store)
    assert searched.count(120) == 1, "the second k used the kept sample graph"
    fresh = cluster(emb.vectors, ClusterParams(broad_k=3), neighbors=knn_graph(emb.vectors, 30))
    assert searched.count(120) == 2
    assert (again.labels == fresh.labels).all() and (again.broad == fresh.broad).all()
    assert again.clustering.broad_k == 3


def test_broad_options_offer_the_finer_level_the_overview_merged():
    vectors, _, topics = three_levels()  # 16 planted topics
    graph = knn_graph(vectors, 30)
    result = cluster(vectors, neighbors=graph)
    assert result.broad_options[0] == result.broad_k < 16, "the overview merged some topics"
    assert 16 in result.broad_options
    assert all(b <= result.k for b in result.broad_options)
    taken = cluster(vectors, ClusterParams(broad_k=16), neighbors=graph)
    assert taken.broad_k == 16 and adjusted_rand_score(topics, taken.broad) > 0.95
    assert taken.broad_options == result.broad_options, "the choices stay once one is taken"
    assert cluster(vectors, ClusterParams(method="kmeans", k=8)).broad_options == ()


def test_auto_with_one_fine_cluster_asked_for():
    vectors, _, _ = hierarchy()
    result = cluster(vectors, ClusterParams(k=1))
    assert (result.k, result.broad_k, result.broad_options) == (1, 1, (1,))


def test_modularity_scores_kept_links_above_chance():
    from embedviz.cluster import _links, modularity

    # four groups of 10 rows, each row linked to the other nine of its group only
    groups = np.repeat(np.arange(4), 10)
    indices = np.array([[j for j in np.nonzero(groups == groups[i])[0] if j != i] for i in range(40)])
    links = _links(Neighbors(indices, np.ones(indices.shape, dtype=np.float32)))
    assert modularity(links, groups) == pytest.approx(1 - 1 / 4)
    assert modularity(links, groups, resolution=0.5) == pytest.approx(1 - 0.5 / 4)
    assert modularity(links, np.zeros(40, dtype=np.int64)) == pytest.approx(0.0)
    halves = groups // 2  # two groups merged: every link still inside, chance doubled
    assert modularity(links, halves) == pytest.approx(1 - 1 / 2)
    shuffled = np.random.default_rng(0).permutation(groups)
    assert modularity(links, shuffled) < 0.2
    noise = groups.copy()
    noise[:10] = -1  # rows of noise and their links are left out
    assert modularity(links, noise) == pytest.approx(1 - 1 / 3)


def test_auto_is_the_same_for_every_seed_and_honours_both_ks():
    vectors, themes, topics = hierarchy(seed=1)
    graph = knn_graph(vectors, 30)
    runs = [cluster(vectors, ClusterParams(seed=s), neighbors=graph) for s in (0, 1, 2)]
    assert all((r.labels == runs[0].labels).all() and (r.broad == runs[0].broad).all() for r in runs)
    fixed = cluster(vectors, ClusterParams(k=12, broad_k=3), neighbors=graph)
    assert (fixed.k, fixed.broad_k) == (12, 3)
    assert adjusted_rand_score(topics, fixed.labels) > 0.9
    assert cluster(vectors, ClusterParams(k=4, broad_k=9), neighbors=graph).broad_k == 4


def test_labels_are_topic_words_without_stop_words_or_numbers(planted):
    frame, vectors = planted
    labels = cluster(vectors, ClusterParams(k=5)).labels
    words = keywords(frame["text"].tolist(), labels)
    for c, found in words.items():
        assert 3 <= len(found) <= 5
        assert not set(found) & stop_words()
        assert not any(w.isdigit() for w in found)
        members = frame["label"][labels == c]
        topic = members.mode()[0]
        assert set(found) <= set(TOPICS[topic])
    all_words = [w for found in words.values() for w in found]
    assert len(all_words) == len(set(all_words)), "keywords are distinct across clusters"


def test_labels_keep_topic_words_that_stop_word_lists_hold():
    # scikit-learn's English stop words hold "bill", "fire", "system", "top": words that name topics.
    texts = [
        "pay the bill",
        "the bill is due",
        "a bill to pay",
        "the fire spread",
        "fire in the hall",
        "a fire alarm",
    ]
    words = keywords(texts, np.repeat([0, 1], 3))
    assert (words[0][0], words[1][0]) == ("bill", "fire")
    assert not set(words[0] + words[1]) & {"the", "a", "in", "is", "to"}


def test_words_with_combining_marks_are_read_whole():
    # Python's \\w leaves out vowel signs and viramas: Hindi clusters were named by fragments
    texts = ["मुझे क्रिकेट देखना पसंद है", "भारत ने क्रिकेट मैच जीता", "क्रिकेट खिलाड़ी ने शतक बनाया"]
    texts += ["आज बारिश हो रही है", "मौसम में बारिश और ठंड", "बारिश के बाद मौसम सुहाना"]
    words = keywords(texts, np.repeat([0, 1], 3))
    assert words[0][0] == "क्रिकेट" and words[1][0] == "बारिश", words
    # an accent typed apart is the same word; an emoji's variation selector or keycap is no letter
    from embedviz.labels import words as read

    assert read("cafe\u0301 e\u0301te\u0301") == read("café été") == ["café", "été"]
    assert read("\u2764\ufe0fLove 1\u20e3Comedy") == ["Love", "Comedy"]


def test_thai_lao_khmer_and_myanmar_are_cut_into_words(monkeypatch):
    # no spaces between words: a clause was one "word", so names were whole sentences
    from embedviz.labels import words as read

    texts = ["ฉันชอบกินข้าวผัดกุ้งมาก", "ข้าวผัดกุ้งร้านนี้อร่อย", "กินข้าวผัดทุกวัน"]
    texts += ["ฟุตบอลทีมชาติไทยชนะ", "ดูฟุตบอลกับเพื่อน", "ทีมฟุตบอลเล่นดีมาก"]
    names = keywords(texts, np.repeat([0, 1], 3))
    assert {"ข้าว", "ผัด"} <= set(names[0][:3]) and names[1][0] == "ฟุตบอล", names
    assert read("ຂ້ອຍມັກກິນ ខ្ញុំចូលចិត្ត ကျွန်တော် fried rice")[-2:] == ["fried", "rice"]
    assert len(read("ຂ້ອຍມັກກິນ ខ្ញុំចូលចិត្ត ကျွန်တော်")) >= 5
    from embedviz.labels import segmenter, word_breaker

    assert segmenter().startswith("icu4py ")
    monkeypatch.setitem(__import__("sys").modules, "icu4py.breakers", None)  # icu4py missing
    word_breaker.cache_clear()
    try:
        assert read("ฉันชอบกินข้าว rice") == ["ฉันชอบกินข้าว", "rice"]
        assert read("苹果和香蕉") == ["苹果", "果和", "和香", "香蕉"]  # Chinese in character pairs
        assert segmenter() == "pairs"  # so words kept in the store are keyed apart
    finally:
        monkeypatch.undo()
        word_breaker.cache_clear()
    assert segmenter().startswith("icu4py ")


def test_chinese_and_japanese_clusters_are_named_by_words_not_whole_clauses():
    # no spaces between their words: each clause was one "word", so names were whole sentences
    texts = [
        "我喜欢吃苹果和香蕉",
        "苹果是一种水果",
        "香蕉和苹果都很甜",
        "今天天气很好",
        "天气预报说明天下雨",
        "明天会下雨吗",
        "東京は日本の首都です",
        "東京タワーに行きました",
    ]
    words = keywords(texts, np.array([0, 0, 0, 1, 1, 1, 2, 2]))
    assert {"苹果", "香蕉"} <= set(words[0]) and {"天气", "下雨"} <= set(words[1])
    # cut by ICU's dictionary: no character pair across a border (苹果和香蕉 read 果和, 和香)
    assert not {"果和", "和香", "欢吃", "吃苹"} & set(words[0])
    # Japanese: particles and endings in hiragana alone (は, の, です, に, ました) left out
    assert "東京" in words[2] and not any(all("\u3040" <= ch <= "\u309f" for ch in w) for w in words[2])
    mixed = keywords(
        ["iPhone手机很好用", "iPhone手机", "plain english text", "english text"], np.repeat([0, 1], 2)
    )
    assert {"iphone", "手机"} <= set(mixed[0]) and set(mixed[1]) == {"english", "text", "plain"}


def test_korean_clusters_are_named_by_stems_not_each_form_of_a_word():
    # a Korean noun carries its particle (게임은, 게임을): each form was a word of its own, so a
    # cluster was named "게임, 게임은, 게임을"
    games = ["게임은 재미있다", "새 게임을 샀다", "게임에서 이겼다", "게임 점수가 높다", "이 게임의 규칙"]
    games += ["전략 게임입니다", "퍼즐 게임과 전략 게임"]
    mail = ["메일을 보냈다", "메일 서버가 느리다", "스팸 메일이 많다", "메일의 제목", "서버를 설치합니다"]
    mail += ["메일 서버에서 스팸을 막는다", "서버는 안정적이다"]
    texts = games + mail
    words = keywords(texts, np.repeat([0, 1], [len(games), len(mail)]), n_words=5)
    assert words[0][0] == "게임" and not any(w.startswith("게임") and w != "게임" for w in words[0]), words
    assert {"메일", "서버"} <= set(words[1][:3]) and not any(
        w.startswith(("메일", "서버")) and len(w) > 2 for w in words[1]
    )
    # the stem is read where the corpus shows it: nouns that end like a particle keep their form
    from embedviz.endings import stems

    found = stems(
        [
            "고양이",
            "고양이가",
            "고양이는",
            "고양이며",
            "국가",
            "국가의",
            "플레",
            "플레이",
            "플레이를",
            "플레이하는",
            "png",
            "png를",
        ]
    )
    assert found == {
        "고양이가": "고양이",
        "고양이는": "고양이",
        "국가의": "국가",
        "플레이를": "플레이",
        "플레이하는": "플레이",
        "png를": "png",
    }, found
    # a phrase is found through the particles its words carry
    radio = [
        "아마추어 무선을 위한 도구",
        "아마추어 무선의 기록",
        "아마추어 무선 로그",
        "아마추어 무선과 모스",
    ]
    radio += ["아마추어 무선은 재미있다", "아마추어 무선 장비"]
    summaries = summarize(radio + games, np.eye(13, dtype=np.float32), np.repeat([0, 1], [6, 7]))
    names = {s.cluster: s.label for s in summaries}
    assert names[0].split(", ")[0] == "아마추어 무선", names


def test_clusters_are_not_named_by_the_pieces_of_addresses_mentions_or_markup():
    # every text with a link: https, www, com, co, news named one cluster each, ahead of its topic
    topics = {"rocket orbit launch": "space", "flour oven bread": "baking", "goal match league": "football"}
    texts = [
        f"<p>{words} story {i} https://www.news-site.co.uk/{name}/{i} via @user mail me@example.com</p>"
        "<br /> &quot;more&quot; &amp; &nbsp;"
        for words, name in topics.items()
        for i in range(8)
    ]
    names = keywords(texts, np.repeat([0, 1, 2], 8))
    pieces = {
        "https",
        "www",
        "news",
        "site",
        "co",
        "uk",
        "user",
        "example",
        "com",
        "br",
        "quot",
        "amp",
        "nbsp",
    }
    assert not pieces & {word for words in names.values() for word in words}
    assert [set(names[c][:3]) for c in range(3)] == [set(words.split()) for words in topics]


def test_words_as_frequent_everywhere_name_no_cluster_in_any_language():
    # no French stop-word list: "la", "et", "des" are as frequent in every topic, so they must not
    # name one (class-based TF-IDF named these three topics "la, le, les", "pour, midi, une" and
    # "dessin, couleur, est")
    topics = [
        ["jeu", "joueur", "plateau", "cartes", "niveau", "arcade"],
        ["audio", "musique", "son", "midi", "piste", "lecteur"],
        ["image", "photo", "dessin", "pixel", "couleur", "retouche"],
    ]
    function = ["la", "et", "des", "le", "de", "du", "les", "pour", "avec", "un", "une", "est"]
    rng = np.random.default_rng(0)
    texts = [
        " ".join(rng.permutation([*rng.choice(vocabulary, 2, replace=False), *rng.choice(function, 8)]))
        for vocabulary in topics
        for _ in range(40)
    ]
    names = keywords(texts, np.repeat([0, 1, 2], 40))
    assert all(set(names[c]) <= set(vocabulary) for c, vocabulary in enumerate(topics)), names


def test_a_cluster_of_emoji_only_texts_is_named_by_its_emoji():
    # no word at all: it was "cluster 1" on the map
    texts = ["\U0001f602\U0001f602", "\U0001f602 !!", "\U0001f525\U0001f602", "rocket orbit", "orbit launch"]
    summaries = summarize(texts, np.eye(5, dtype=np.float32), np.array([0, 0, 0, 1, 1]))
    assert [s.label for s in summaries] == ["\U0001f602, \U0001f525", "orbit, launch, rocket"]


def test_a_cluster_of_numbers_is_named_by_its_commonest_texts():
    # no word and no symbol: it was "cluster 0", inside a topic named "cluster 1"
    texts = ["7", "12", "7", " 12 ", "7", "3", "rocket orbit", "orbit launch"] + ["9" * 30]
    summaries = summarize(texts, np.eye(9, dtype=np.float32), np.array([0, 0, 0, 0, 0, 0, 1, 1, 2]))
    assert [s.label for s in summaries] == ["7, 12, 3", "orbit, launch, rocket", "9" * 19 + "…"]


def test_words_with_digits_name_clusters_and_bare_numbers_do_not():
    texts = ["plays mp3 and ogg files 2024", "mp3 player for ogg 10", "an mp3 tagger 2024"]
    texts += ["3d modelling in blender 2024", "blender renders 3d scenes 10", "3d printer slicer"]
    names = keywords(texts, np.repeat([0, 1], 3))
    assert names[0][0] == "mp3" and names[1][0] == "3d"
    assert not any(word.isdigit() for words in names.values() for word in words)


def test_names_that_collide_are_told_apart_or_numbered():
    from embedviz.labels import distinct_keywords, numbered_names

    texts = ["rain storm wind north"] * 3 + ["rain storm wind south"] * 3 + ["rain storm wind"] * 3
    labels = np.repeat([0, 1, 2], 3)
    shared = ("rain", "storm", "wind")

    def among(members):
        rows = np.flatnonzero(np.isin(labels, members))
        return keywords([texts[i] for i in rows], labels[rows], n_words=10)

    told = distinct_keywords({0: shared, 1: shared, 2: shared, 3: ("guitar", "song")}, among)
    assert told[0][:3] == ("rain", "storm", "north") and told[1][:3] == ("rain", "storm", "south")
    assert told[2] == shared, "no word of its own among them: left as it is"
    assert told[3] == ("guitar", "song")
    named = numbered_names([(5, "rain, storm"), (2, "song"), (7, "rain, storm"), (1, "rain, storm")])
    assert named == {5: "rain, storm", 2: "song", 7: "rain, storm (2)", 1: "rain, storm (3)"}

    from embedviz.labels import ClusterSummary
    from embedviz.pipeline import LabelledClustering

    same = [ClusterSummary(c, 10 - c, shared, ()) for c in range(3)]
    labelled = LabelledClustering(
        Clustering(np.arange(3), np.zeros(3, dtype=int)), tuple(same), user_names={"fine": {0: "Weather"}}
    )
    assert labelled.names("fine") == {0: "Weather", 1: "rain, storm, wind", 2: "rain, storm, wind (2)"}


def test_summaries_give_size_label_and_representatives(planted):
    frame, vectors = planted
    labels = cluster(vectors, ClusterParams(k=5)).labels
    summaries = summarize(frame["text"].tolist(), vectors, labels)
    assert [s.cluster for s in summaries] == [0, 1, 2, 3, 4]
    assert sum(s.size for s in summaries) == len(frame)
    for s in summaries:
        assert len(s.representatives) == 3
        assert all(labels[r] == s.cluster for r in s.representatives)
        assert s.label == ", ".join(s.keywords[:3])


def test_noise_summary_comes_last():
    texts = ["rocket orbit", "rocket planet", "bake flour", "odd one"]
    vectors = np.eye(4, dtype=np.float32)
    summaries = summarize(texts, vectors, np.array([0, 0, 1, -1]))
    assert summaries[-1].cluster == -1 and summaries[-1].label == "noise"


def test_tiny_inputs_and_bad_params():
    assert cluster(np.eye(2, dtype=np.float32)).labels.tolist() == [0, 0]
    assert cluster(np.eye(4, dtype=np.float32), ClusterParams(k=9)).k == 4
    with pytest.raises(InputError, match="at least 1"):
        ClusterParams(broad_k=0)
    with pytest.raises(InputError, match="unknown clustering"):
        ClusterParams(method="dbscan")


def test_auto_is_the_default_and_gives_every_row_a_cluster(planted):
    frame, vectors = planted
    assert ClusterParams().method == "auto"
    labels = cluster(vectors, ClusterParams(), neighbors=knn_graph(vectors, 30)).labels
    assert (labels >= 0).all()


def test_hdbscan_noise_is_kept_or_assigned_as_asked(planted):
    frame, vectors = planted
    odd = np.random.default_rng(1).normal(size=(8, vectors.shape[1])).astype(np.float32)
    odd /= np.linalg.norm(odd, axis=1, keepdims=True)
    data = np.vstack([vectors, odd])
    kept = cluster(data, ClusterParams(method="hdbscan", min_cluster_size=10)).labels
    assert (kept == -1).any()
    assigned = cluster(data, ClusterParams(method="hdbscan", min_cluster_size=10, keep_noise=False)).labels
    assert (assigned >= 0).all()
    clustered = kept >= 0
    assert adjusted_rand_score(kept[clustered], assigned[clustered]) == 1.0  # same groups, maybe renumbered


def test_cluster_names_from_a_chat_model_on_a_local_server(planted):
    import openai

    from embedviz.naming import name_clusters
    from tests.openai_server import FakeOpenAI

    frame, vectors = planted
    labels = cluster(vectors, ClusterParams(k=5)).labels
    summaries = summarize(frame["text"].tolist(), vectors, labels)
    with FakeOpenAI() as server:
        client = openai.OpenAI(api_key=server.key, base_url=server.url, max_retries=0)
        names = name_clusters(summaries, frame["text"].tolist(), client)
    assert sorted(names) == [0, 1, 2, 3, 4]
    assert all(names[s.cluster] == f"All about {s.keywords[0]}" for s in summaries)
    assert all("Examples:" in r["messages"][0]["content"] for r in server.requests)


def test_auto_on_a_large_set_clusters_a_sample_and_every_row_joins_one(monkeypatch):
    cluster_module = importlib.import_module(
        "embedviz.cluster"
    )  # the package exports a function of that name

    frame = planted_frame(per_topic=120)
    vectors = make_backend("planted").encode(frame["text"].tolist())
    monkeypatch.setattr(cluster_module, "AUTO_SAMPLE", 200)  # 600 texts: a third is clustered
    result = cluster(vectors, ClusterParams(), neighbors=knn_graph(vectors, 30))
    assert (result.labels >= 0).all()
    assert result.broad_k == 5
    assert adjusted_rand_score(frame["label"], result.broad) > 0.9
    assert_nested(result)
    assert any("sample of 200 texts (the same for every seed)" in note for note in result.notes)
    wider = cluster(vectors, ClusterParams(), neighbors=knn_graph(vectors, 45))
    assert (wider.labels == result.labels).all(), "a wider graph gives the same clusters"
    other_seed = cluster(vectors, ClusterParams(seed=7), neighbors=knn_graph(vectors, 30))
    assert (other_seed.labels == result.labels).all() and (other_seed.broad == result.broad).all()
    repeats = np.concatenate([np.arange(len(vectors)), np.repeat(np.arange(50), 20)])  # 1,000 copies
    again = cluster(vectors[repeats], ClusterParams())
    copies = again.labels[len(vectors) :].reshape(50, 20)
    assert (copies == again.labels[:50][:, None]).all(), "every copy in its text's cluster"
    assert adjusted_rand_score(frame["label"].to_numpy()[repeats], again.broad) > 0.9


def test_repeated_texts_enter_the_tree_once_and_every_copy_is_clustered(monkeypatch):
    """Thousands of copies of a few texts (a survey's "n/a", a bot's tweet) made the Ward tree
    quadratic; each distinct text is now one point of it, and every copy takes its label."""
    from sklearn.cluster import AgglomerativeClustering

    cluster_module = importlib.import_module("embedviz.cluster")
    vectors, themes, topics = hierarchy()
    repeated = np.repeat(np.arange(0, len(vectors), 40), 200)  # 12 texts, 200 copies each
    rows = np.concatenate([np.arange(len(vectors)), repeated])
    fitted_rows = []
    real_fit = AgglomerativeClustering.fit

    def fit(self, x, y=None):
        fitted_rows.append(len(x))
        return real_fit(self, x, y)

    monkeypatch.setattr(AgglomerativeClustering, "fit", fit)
    result = cluster_module.cluster(vectors[rows], neighbors=knn_graph(vectors[rows], 30))
    assert fitted_rows == [len(vectors)], "the tree holds each distinct text once"
    assert len(result.labels) == len(rows)
    copies = result.labels[len(vectors) :].reshape(12, 200)
    assert (copies == result.labels[repeated[::200]][:, None]).all(), "every copy in its text's cluster"
    assert_within(themes[rows], result.broad)
    assert_nested(result)
    same = cluster_module.cluster(np.repeat(vectors[:1], 12, axis=0))
    assert (same.k, same.broad_k) == (1, 1)


def test_distinct_rows_are_exact_even_when_their_keys_collide(monkeypatch):
    cluster_module = importlib.import_module("embedviz.cluster")
    vectors = np.random.default_rng(3).normal(size=(6, 16))
    vectors[3] = vectors[0]  # a repeat
    expected = ([0, 1, 2, 4, 5], [0, 1, 2, 0, 3, 4], [2, 1, 1, 1, 1])
    first, inverse, copies = cluster_module._distinct(vectors)
    assert (first.tolist(), inverse.tolist(), copies.tolist()) == expected
    # keys that tell no row apart: the exact check finds it and compares whole rows
    monkeypatch.setattr(cluster_module, "_row_keys", lambda v: np.zeros((len(v), 2)))
    first, inverse, copies = cluster_module._distinct(vectors)
    assert (first.tolist(), inverse.tolist(), copies.tolist()) == expected


def test_a_graph_of_every_row_narrows_to_the_distinct_texts_without_a_second_search(monkeypatch):
    """cluster() given the kNN graph of rows that repeat texts uses that graph, narrowed to the
    distinct texts, and gets what a graph of the distinct texts alone gives; only texts whose
    list the copies filled are searched again."""
    cluster_module = importlib.import_module("embedviz.cluster")
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(400, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = np.concatenate([np.arange(400), np.repeat(7, 40), np.repeat(np.arange(100, 130), 3)])
    graph = knn_graph(vectors[rows], 30)
    distinct, inverse, _ = cluster_module._distinct(vectors[rows])
    searched = []
    real_top_k = cluster_module.top_k

    def top_k(base, queries, k):
        searched.append(len(queries))
        return real_top_k(base, queries, k)

    monkeypatch.setattr(cluster_module, "top_k", top_k)
    narrowed = cluster_module._distinct_graph(vectors[rows][distinct], graph, distinct, inverse)
    alone = knn_graph(vectors, 15)
    assert (narrowed.indices == alone.indices).all()
    assert np.allclose(narrowed.scores, alone.scores, atol=1e-6)
    assert len(searched) == 1 and 1 <= searched[0] < 40, "only texts the copies crowded out"
    narrow = cluster_module._distinct_graph(
        vectors[rows][distinct], knn_graph(vectors[rows], 10), distinct, inverse
    )
    assert (narrow.indices == alone.indices).all(), "a graph narrower than 15 is built again"
    given = cluster_module.cluster(vectors[rows], neighbors=graph)
    monkeypatch.setattr(cluster_module, "top_k", real_top_k)
    fresh = cluster_module.cluster(vectors[rows])
    assert (given.labels == fresh.labels).all() and (given.broad == fresh.broad).all()


def test_sample_rows_are_seedless_spread_and_nested():
    from embedviz.cluster import sample_rows

    ids = np.concatenate([np.arange(0, 3000), np.arange(5000, 9000)])  # row ids with a gap
    small, large = sample_rows(ids, 200), sample_rows(ids, 1000)
    assert len(small) == 200 and len(large) == 1000 and len(np.unique(large)) == 1000
    assert set(small) <= set(large) <= set(ids), "a smaller sample lies inside a larger one"
    assert (np.diff(large) > 0).all() and (sample_rows(ids, 1000) == large).all()
    # spread over the rows, not their start: about 3/7 of the sample below the gap
    assert 0.33 < (large < 3000).mean() < 0.53 and large.max() > 8000
    assert (sample_rows(ids, 10_000) == ids).all()


def test_propagate_follows_labelled_neighbours_and_falls_back_to_centres():
    from embedviz.cluster import propagate
    from embedviz.neighbors import Neighbors

    vectors = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2]]
    labels = np.array([0, -1, 1, -1, -1])
    # row 1's neighbour is row 0, row 3's is row 1 (labelled only after round one); row 4 has
    # no labelled neighbour and is closest to no centre in particular
    graph = Neighbors(np.array([[1], [0], [3], [1], [4]]), np.ones((5, 1), np.float32))
    out = propagate(vectors, labels, graph)
    assert out.tolist()[:4] == [0, 0, 1, 0]
    assert out[4] in (0, 1)


def test_one_vote_moves_a_text_to_its_neighbours_cluster_and_keeps_every_cluster():
    from embedviz.cluster import _smooth

    ones = np.ones(6, dtype=np.int64)
    labels = np.array([0, 0, 0, 1, 1, 1])
    # row 2's two neighbours are in cluster 1: it moves; row 3 has one of each: a tie, it stays
    graph = Neighbors(np.array([[1, 2], [0, 2], [3, 4], [2, 4], [3, 5], [3, 4]]), np.ones((6, 2), np.float32))
    assert _smooth(labels, graph, ones).tolist() == [0, 0, 1, 1, 1, 1]
    # a neighbour that stands for three rows outvotes the text and its other neighbour
    graph = Neighbors(np.array([[1, 3], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]]), np.ones((6, 2), np.float32))
    heavy = np.array([1, 1, 1, 3, 1, 1])
    assert _smooth(labels, graph, heavy)[0] == 1
    assert _smooth(labels, graph, ones)[0] == 0
    # neighbours outside the text's own topic have no vote
    topics = np.array([0, 1, 1, 1, 1, 1])
    assert _smooth(labels, graph, heavy, within=topics)[0] == 0
    # a cluster every neighbour votes away keeps its texts: the count asked for stays
    lone = np.array([0, 0, 0, 0, 0, 1])
    graph = Neighbors(np.array([[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]]), np.ones((6, 2), np.float32))
    assert _smooth(lone, graph, ones).tolist() == lone.tolist()


def test_a_files_own_clusters_are_read_with_sizes_names_and_representatives():
    from embedviz import corpus_from_frame
    from embedviz.pipeline import file_clustering

    frame = pd.DataFrame(
        {
            "text": [f"text {i}" for i in range(7)],
            "cluster": [0, 0, 0, 1, 1, -2, 0],
            "cluster_label": [
                "oven, flour",
                "oven, flour",
                "oven, flour",
                "goal",
                "goal",
                "far",
                "oven, flour",
            ],
            "broad_cluster": [0, 0, 0, 0, 0, -2, 0],
            "broad_cluster_label": ["kitchen"] * 5 + ["far", "kitchen"],
            "similarity": [0.1, 0.9, 0.5, 0.7, 0.8, 0.2, 0.95],
        }
    )
    labelled = file_clustering(corpus_from_frame(frame))
    assert labelled.labels.tolist() == [0, 0, 0, 1, 1, -1, 0]
    assert [(s.cluster, s.size) for s in labelled.summaries] == [(0, 4), (1, 2), (-1, 1)]
    assert labelled.summaries[0].representatives == (6, 1, 2), "most similar first"
    assert labelled.names("fine") == {0: "oven, flour", 1: "goal", -1: "noise"}
    assert labelled.names("broad")[0] == "kitchen" and labelled.clustering.broad_k == 1
    with pytest.raises(InputError, match="no clusters of its own"):
        file_clustering(corpus_from_frame(frame.drop(columns="broad_cluster")))


def test_keywords_of_many_clusters_are_scored_among_the_most_frequent_words(monkeypatch):
    # every word of 100k tweets for 200 clusters took 640 MB; the rarest cannot name a cluster
    labels_module = importlib.import_module("embedviz.labels")
    monkeypatch.setattr(labels_module, "DENSE_CELLS", 8)  # 2 clusters: the 4 most frequent words
    texts = ["rocket orbit zeta", "rocket orbit", "rocket launch", "bread flour", "bread oven", "bread flour"]
    names = keywords(texts, np.repeat([0, 1], 3))
    assert set(names[0]) | set(names[1]) == {"rocket", "orbit", "bread", "flour"}
    assert labels_module.frequent_words(np.array([5, 1, 9, 2]), 4).tolist() == [0, 2]  # 8 cells / 4


def test_keywords_that_stand_together_name_a_cluster_as_one_phrase():
    from embedviz.labels import phrases

    sports = ["the red sox beat boston", "red sox win again in boston", "boston cheers the red sox"]
    sports += ["yankees lose to the red sox", "red sox fans in boston", "boston and new york"]
    oil = ["oil prices rise", "crude oil falls", "oil tanker leaks", "oil field fire", "oil prices fall"]
    oil += ["oil rig safety", "oil imports grow"]
    texts = sports + oil
    labels = np.repeat([0, 1], [len(sports), len(oil)])
    summaries = summarize(texts, np.eye(len(texts), dtype=np.float32), labels)
    names = {s.cluster: s.label for s in summaries}
    terms = names[0].split(", ")
    assert "red sox" in terms and "red" not in terms and "sox" not in terms, names
    # "oil prices" is 2 of oil's 7 places: oil stays a word of its own, and prices is not joined
    # to a word already named
    assert names[1].split(", ")[0] == "oil" and "oil prices" not in names[1], names
    # each word in one term at most, terms as many as asked
    joined = phrases(texts, labels, {0: ("sox", "red", "boston", "yankees", "fans", "win")}, n_words=3)
    assert joined[0] == ("red sox", "boston", "yankees")
    # words of scripts written without spaces are never joined (by a space they do not have)
    unspaced = ["东京塔 夜景", "东京塔 夜景 美丽", "东京塔 夜景 好"] * 2 + ["ข้าว ผัด"] * 6
    read = ("东京", "夜景")
    assert phrases(unspaced, np.zeros(12, dtype=int), {0: read})[0] == read
    assert phrases(unspaced, np.zeros(12, dtype=int), {0: ("ข้าว", "ผัด")})[0] == ("ข้าว", "ผัด")
