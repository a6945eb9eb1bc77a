# Generated product reviews and the classifier pipeline, shared by lr-training (which trains on them)
# and lr-serving (whose model set-up trains with the same code). Copied into both folders by
# scripts/suite/sync-shared.sh; test/suite/shared.test.ts keeps the copies identical.
import random

LABELS = ("negative", "positive")
POSITIVE = ["great", "excellent", "love", "perfect", "amazing", "recommend", "sturdy", "fast", "happy",
            "wonderful", "reliable", "superb", "comfortable", "bargain", "flawless", "delighted"]
NEGATIVE = ["terrible", "broken", "awful", "refund", "disappointed", "slow", "cheap", "poor", "waste",
            "useless", "flimsy", "returned", "worst", "faulty", "annoying", "horrible"]
NEUTRAL = ["the", "a", "this", "it", "was", "is", "product", "item", "delivery", "box", "price", "quality",
           "battery", "screen", "size", "color", "after", "week", "month", "use", "my", "and", "with", "for",
           "kitchen", "phone", "chair", "lamp", "shoes", "very", "really", "quite", "arrived", "bought"]


def make_reviews(n, seed, label_noise=0.05):
    """n seeded (text, label) pairs; a few cross-sentiment words and flipped labels keep it learnable but not trivial."""
    rnd = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rnd.randrange(2)
        own, other = (POSITIVE, NEGATIVE) if label == 1 else (NEGATIVE, POSITIVE)
        words = [rnd.choice(NEUTRAL) for _ in range(rnd.randrange(6, 16))]
        words += [rnd.choice(own) for _ in range(rnd.randrange(1, 4))]
        if rnd.random() < 0.3:
            words.append(rnd.choice(other))
        rnd.shuffle(words)
        if rnd.random() < label_noise:
            label = 1 - label
        texts.append(" ".join(words))
        labels.append(LABELS[label])
    return texts, labels


def make_pipeline():
    """TF-IDF over words and bigrams, then logistic regression: FunctionBench's review classifier."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline as pipe

    return pipe(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=500, random_state=0))
