"""The CIFAR-10 data set: reading it (trusted side), synthesising it, fetching it."""
