import { expect } from "chai";
import { network } from "hardhat";
import PMHEModule from "../../ignition/modules/PMHE.js";
import { connectPmhe } from "../../protocol/chain.js";

describe("Ignition deployment module", function () {
  it("deploys PMHE with the deployer as admin and quorum 2 by default, and with the admin, quorum and timeout parameters when given", async function () {
    const { ethers, ignition } = await network.create();
    const [deployer, governance] = await ethers.getSigners();

    const first = connectPmhe(await (await ignition.deploy(PMHEModule)).pmhe.getAddress(), deployer!);
    const adminRole = await first.DEFAULT_ADMIN_ROLE();
    expect(await first.hasRole(adminRole, deployer!.address)).to.equal(true);
    // A single operator could forge results: the module never defaults to quorum 1.
    expect(await first.quorum()).to.equal(2n);
    expect(await first.jobTimeout()).to.equal(3600n);

    const deployed = await ignition.deploy(PMHEModule, { parameters: { PMHE: { admin: governance!.address, quorum: 3, jobTimeout: 600 } } });
    const second = connectPmhe(await deployed.pmhe.getAddress(), deployer!);
    expect(await second.getAddress()).to.not.equal(await first.getAddress());
    expect(await second.hasRole(adminRole, governance!.address)).to.equal(true);
    expect(await second.hasRole(adminRole, deployer!.address)).to.equal(false);
    expect(await second.quorum()).to.equal(3n);
    expect(await second.jobTimeout()).to.equal(600n);
  });
});
