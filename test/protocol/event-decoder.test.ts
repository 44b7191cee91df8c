import { expect } from "chai";
import { AbiCoder, hexlify, randomBytes, zeroPadValue } from "ethers";
import { EventDecoder } from "../../protocol/event-decoder.js";
import { PMHE__factory } from "../../types/ethers-contracts/factories/PMHE__factory.js";

describe("protocol/event-decoder: the contract's logs decoded by their first topic", function () {
  const iface = PMHE__factory.createInterface();
  const decoder = new EventDecoder(iface);
  const coder = AbiCoder.defaultAbiCoder();
  const operator = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

  it("decodes every event of the contract exactly as ethers' parseLog does", function () {
    let checked = 0;
    iface.forEachEvent((fragment) => {
      const topics = [fragment.topicHash];
      const dataTypes: string[] = [];
      const dataValues: unknown[] = [];
      for (const input of fragment.inputs) {
        const value = input.type === "address" ? operator : input.type === "bytes32" ? hexlify(randomBytes(32)) : input.type.startsWith("uint") ? 7n : input.type === "string" ? "locator" : input.type === "bool" ? true : undefined;
        if (value === undefined) throw new Error(`no sample value for ${input.type} in ${fragment.name}`);
        if (input.indexed) topics.push(input.type === "address" ? zeroPadValue(operator, 32) : coder.encode([input.type], [value]));
        else {
          dataTypes.push(input.type);
          dataValues.push(value);
        }
      }
      const log = { topics, data: coder.encode(dataTypes, dataValues) };
      const expected = iface.parseLog(log)!;
      const actual = decoder.decode(log)!;
      expect(actual.name).to.equal(expected.name);
      for (const input of fragment.inputs) expect(actual.args[input.name], `${fragment.name}.${input.name}`).to.deep.equal(expected.args[input.name]);
      checked++;
    });
    expect(checked).to.be.greaterThan(20);
  });

  it("gives undefined for a log of no known event, or whose topics or data do not fit its event", function () {
    const fragment = iface.getEvent("ResultCommitted")!;
    const good = { topics: [fragment.topicHash, hexlify(randomBytes(32)), zeroPadValue(operator, 32)], data: coder.encode(["bytes32", "uint8"], [hexlify(randomBytes(32)), 1]) };
    expect(decoder.decode(good)?.name).to.equal("ResultCommitted");
    expect(decoder.decode({ ...good, topics: [hexlify(randomBytes(32)), ...good.topics.slice(1)] })).to.equal(undefined);
    expect(decoder.decode({ ...good, topics: good.topics.slice(0, 2) })).to.equal(undefined);
    expect(decoder.decode({ ...good, topics: [...good.topics, hexlify(randomBytes(32))] })).to.equal(undefined);
    expect(decoder.decode({ ...good, data: "0x1234" })).to.equal(undefined);
    expect(decoder.decode({ topics: [], data: "0x" })).to.equal(undefined);
  });
});
