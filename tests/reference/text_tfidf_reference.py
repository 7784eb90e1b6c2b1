# Reference: scikit-learn 1.2.1 TfidfVectorizer(analyzer='char', ngram_range=(1, 3), sublinear_tf=True)
from sklearn.feature_extraction.text import TfidfVectorizer
import sklearn
docs = [
    "Great coffee, great price!",
    "The coffee arrived cold.  Never again",
    "物流很快，咖啡很好喝",
    "咖啡很难喝，物流太慢",
    "great great great",
    "ok 👍 good",
]
import unicodedata
v = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, norm="l2", smooth_idf=True, preprocessor=lambda s: unicodedata.normalize("NFKC", s).lower())
X = v.fit_transform(docs)
vocab = v.vocabulary_
print("sklearn", sklearn.__version__, "features", len(vocab))
for g in ["great", "gre", "coffee", "咖啡", "很", "👍", " g", "t ", "ea"]:
    if g in vocab:
        j = vocab[g]
        print(repr(g), "idf %.15f" % v.idf_[j], "values", ["%.15f" % X[i, j] for i in range(len(docs))])
    else:
        print(repr(g), "absent")
