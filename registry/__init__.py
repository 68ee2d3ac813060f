"""Domain core of the Jiaozuo asset registry; knows nothing of HTTP or concrete layers."""
