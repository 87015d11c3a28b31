"""The channels-last layout shared by the conv networks: same numbers as the plain layout."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from genzoo.models.flow.nets import ResNet
from genzoo.models.gan import GANConfig
from genzoo.models.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from genzoo.models.layers import channels_last


def test_channels_last_converts_only_images():
    x = torch.randn(2, 3, 4, 5)
    y = channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(
        memory_format=torch.channels_last
    )
    assert torch.equal(x, y)
    flat = torch.randn(2, 3)
    assert channels_last(flat) is flat


def _randomised(net: nn.Module) -> nn.Module:
    """``net`` in float64 with every parameter random (zero-initialised outputs would hide a
    wrong layout), in eval mode so BatchNorm uses its running statistics."""
    torch.manual_seed(1)
    net = net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return net


def _plain(net: nn.Module) -> nn.Module:
    plain = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    assert all(p.is_contiguous() for p in plain.parameters())
    return plain


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda: DCGANGenerator(GANConfig(arch="dcgan", width=4, z_dim=5), (3, 8, 12)),
         torch.randn(3, 5)),
        (lambda: DCGANDiscriminator(GANConfig(arch="dcgan", width=4, z_dim=5), (3, 8, 12)),
         torch.rand(3, 3, 8, 12)),
        (lambda: ResNet(2, 6, 4, blocks=2), torch.randn(3, 2, 6, 4)),
    ],
)  # fmt: skip
def test_networks_run_channels_last_and_compute_the_plain_layout(make, x):
    net = _randomised(make())
    convs = [p for p in net.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    out = net(x.double())
    assert out.is_contiguous()
    assert torch.allclose(out, _plain(net)(x.double()), atol=1e-10)
