"""Model families, one subpackage each; the layers they share in ``genzoo.models.layers``."""
