"""A few DDP steps of a tiny model: every process prints its rank; rank 0 prints the world size and the loss
averaged over all processes (an all-reduce), so the output shows the nodes really trained together."""

import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

STEPS = int(os.environ.get("STEPS", "5"))


def main() -> None:
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    torch.manual_seed(rank)
    model = DistributedDataParallel(torch.nn.Linear(8, 1).to(device), device_ids=[device.index] if cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    print(f"rank {rank} of {world} on {os.environ.get('SKYPILOT_NODE_RANK', '?')}/{device}", flush=True)
    for step in range(1, STEPS + 1):
        inputs = torch.randn(32, 8, device=device)
        loss = torch.nn.functional.mse_loss(model(inputs), inputs.sum(dim=1, keepdim=True))
        optimizer.zero_grad()
        loss.backward()  # DDP all-reduces the gradients here
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        mean /= world
        if rank == 0:
            print(f"step {step} world_size {world} loss {mean.item():.4f}", flush=True)
        optimizer.step()
    del model, optimizer  # DDP's communication hooks go before the process group does
    dist.barrier()  # no process leaves while another still talks to it
    dist.destroy_process_group()
    print(f"rank {rank} done", flush=True)


if __name__ == "__main__":
    main()
    # Leave without running C++ static destructors: torch 2.15's gloo threads can abort the process there
    # ("terminate called without an active exception") after the work is done; nothing is left to flush.
    sys.stderr.flush()
    os._exit(0)
