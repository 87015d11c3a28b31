"""Model families, one subpackage each; shared layers in ``genzoo.models.layers``."""
