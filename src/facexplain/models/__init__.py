"""Models: the AU detector and emotion classifiers (small torchvision ResNets), the landmark Conv+LSTM nets."""
