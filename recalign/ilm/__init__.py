"""ILM (Yang et al. 2024): collaborative item embeddings as soft tokens into a frozen backbone.

``encoder`` (MLP / Q-Former item encoders), ``soft_tokens`` (the frozen backbone reads them),
``data`` (CF vectors and item–item pairs, train split only), ``phase1`` (item–text and item–item
pretraining), ``phase2`` (only the item encoder learns), ``runner`` (the arms, per seed), ``table`` (the arms
averaged over seeds, paired against the backbone and each other), ``config``.
"""
